package dev.genloom.pipelines;

import dev.genloom.proto.MediaKind;
import dev.genloom.proto.RunLayout;
import dev.genloom.proto.v1.Result;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Serializable;
import java.nio.channels.Channels;
import java.util.List;
import java.util.UUID;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.MoveOptions;
import org.apache.beam.sdk.io.fs.ResolveOptions.StandardResolveOptions;
import org.apache.beam.sdk.io.fs.ResourceId;
import org.apache.beam.sdk.util.MimeTypes;

/**
 * Writes a result's media under {@code OUT/media/} through Beam FileSystems: to a temporary name,
 * then renamed onto {@code <request id>.<ext>}, so a retried or repeated request never leaves a
 * partial or second file.
 */
final class MediaFiles implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String out;

  MediaFiles(String out) {
    this.out = out;
  }

  /** Writes the first media of {@code result}; returns its path relative to the output folder. */
  String write(String requestId, Result result) throws IOException {
    String relative =
        RunLayout.mediaPath(requestId, MediaKind.ofMimeType(result.getMedia(0).getMimeType()));
    ResourceId outDir = FileSystems.matchNewResource(out, true);
    ResourceId target = outDir.resolve(relative, StandardResolveOptions.RESOLVE_FILE);
    ResourceId temp =
        outDir.resolve(
            RunLayout.MEDIA + "/" + RunLayout.TEMPORARY + requestId + "-" + UUID.randomUUID(),
            StandardResolveOptions.RESOLVE_FILE);
    try (OutputStream os = Channels.newOutputStream(FileSystems.create(temp, MimeTypes.BINARY))) {
      result.getMedia(0).getData().writeTo(os);
    }
    FileSystems.rename(
        List.of(temp), List.of(target), MoveOptions.StandardMoveOptions.IGNORE_MISSING_FILES);
    return relative;
  }
}
