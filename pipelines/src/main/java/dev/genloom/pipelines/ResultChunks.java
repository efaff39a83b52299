package dev.genloom.pipelines;

import com.google.protobuf.ByteString;
import dev.genloom.proto.v1.Result;

/**
 * The result events of one request joined into one result, without copying the media bytes: a
 * worker splits large media across events, the last with {@code chunk_index = chunk_count - 1}.
 */
final class ResultChunks {
  private ByteString data = ByteString.EMPTY;

  /** Adds one result event; returns the whole result at its last chunk, else null. */
  Result add(Result chunk) {
    if (chunk.getMediaCount() > 0) {
      data = data.concat(chunk.getMedia(0).getData());
    }
    if (chunk.getChunkIndex() < chunk.getChunkCount() - 1) {
      return null;
    }
    if (chunk.getMediaCount() == 0 || chunk.getChunkCount() <= 1) {
      return chunk;
    }
    return chunk.toBuilder().setMedia(0, chunk.getMedia(0).toBuilder().setData(data)).build();
  }
}
