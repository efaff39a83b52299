package dev.genloom.proto;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Proto3 JSON reading and writing for Genloom's file formats: {@code manifest.json} of a model
 * package and the lines of a run's {@code manifest.jsonl}.
 *
 * <p>Parsing is strict: an unknown field is an error, so a typo in a manifest is reported instead
 * of silently ignored. A run-manifest line's {@code status} is printed as its enum name ({@code
 * "STATUS_OK"}, {@code "STATUS_FAILED"}); the lowercase {@code "ok"} and {@code "failed"} that runs
 * before the enum wrote are read as those values, so older run folders resume and evaluate.
 */
public final class ProtoJson {
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();
  private static final JsonFormat.Printer RECORD_PRINTER =
      JsonFormat.printer()
          .preservingProtoFieldNames()
          .alwaysPrintFieldsWithNoPresence()
          .omittingInsignificantWhitespace();
  private static final JsonFormat.Printer MANIFEST_PRINTER = JsonFormat.printer();
  private static final Map<String, RunRecord.Status> EARLIER_STATUS =
      Map.of("ok", RunRecord.Status.STATUS_OK, "failed", RunRecord.Status.STATUS_FAILED);

  private ProtoJson() {}

  /** Parses a model manifest, naming {@code source} in the error when the JSON is invalid. */
  public static ModelManifest parseManifest(String json, String source) {
    ModelManifest.Builder builder = ModelManifest.newBuilder();
    merge(json, builder, source);
    return builder.build();
  }

  /** Reads and parses a {@code manifest.json} file. */
  public static ModelManifest readManifest(Path file) {
    String json;
    try {
      json = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read model manifest " + file + ": " + e, e);
    }
    return parseManifest(json, file.toString());
  }

  /** Prints a manifest as indented proto3 JSON (lowerCamelCase names, as the packages store it). */
  public static String printManifest(ModelManifest manifest) {
    return print(MANIFEST_PRINTER, manifest);
  }

  /** Prints one run-manifest line: compact JSON with the proto's snake_case field names. */
  public static String printRecord(RunRecord record) {
    return print(RECORD_PRINTER, record);
  }

  /** Parses one run-manifest line, in this form or with an earlier run's lowercase status. */
  public static RunRecord parseRecord(String line, String source) {
    RunRecord.Builder builder = RunRecord.newBuilder();
    merge(withEnumStatus(line), builder, source);
    return builder.build();
  }

  /**
   * The line with an earlier run's {@code "status": "ok"} or {@code "failed"} spelled as the enum
   * value; any other line as it is, for the strict parser to accept or refuse.
   */
  private static String withEnumStatus(String line) {
    JsonElement tree;
    try {
      tree = JsonParser.parseString(line);
    } catch (JsonParseException e) {
      return line;
    }
    if (!tree.isJsonObject()) {
      return line;
    }
    JsonObject object = tree.getAsJsonObject();
    JsonElement status = object.get("status");
    if (!(status instanceof JsonPrimitive value)
        || !value.isString()
        || !EARLIER_STATUS.containsKey(value.getAsString())) {
      return line;
    }
    object.addProperty("status", EARLIER_STATUS.get(value.getAsString()).name());
    return object.toString();
  }

  private static void merge(String json, Message.Builder builder, String source) {
    try {
      PARSER.merge(json, builder);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw new IllegalArgumentException(
          "invalid "
              + builder.getDescriptorForType().getName()
              + " JSON in "
              + source
              + ": "
              + e.getMessage(),
          e);
    }
  }

  private static String print(JsonFormat.Printer printer, Message message) {
    try {
      return printer.print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("cannot print " + message.getDescriptorForType(), e);
    }
  }
}
