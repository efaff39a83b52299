package dev.genloom.pipelines;

import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.apache.beam.sdk.coders.AtomicCoder;
import org.apache.beam.sdk.coders.ByteArrayCoder;
import org.apache.beam.sdk.coders.CoderException;

/** A {@link RunRecord} as its protobuf bytes: far cheaper than Java serialization per item. */
final class RunRecordCoder extends AtomicCoder<RunRecord> {
  private static final RunRecordCoder INSTANCE = new RunRecordCoder();
  private static final ByteArrayCoder BYTES = ByteArrayCoder.of();

  static RunRecordCoder of() {
    return INSTANCE;
  }

  @Override
  public void encode(RunRecord value, OutputStream out) throws IOException {
    BYTES.encode(value.toByteArray(), out);
  }

  @Override
  public RunRecord decode(InputStream in) throws IOException {
    try {
      return RunRecord.parseFrom(BYTES.decode(in));
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new CoderException("not a RunRecord", e);
    }
  }

  @Override
  public void verifyDeterministic() {
    // protobuf's serialization of one message is deterministic for the fields RunRecord has
  }
}
