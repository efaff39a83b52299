package dev.genloom.evaluation;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * How the records that evaluation hands on ({@code metrics.json}, {@code humaneval.json}, {@code
 * report.json}) become JSON and back: Jackson data binding, indented, an unknown key an error that
 * names it.
 */
public final class EvalJson {
  private static final ObjectMapper MAPPER =
      JsonMapper.builder()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .build();

  private EvalJson() {}

  /** The value as indented JSON, without a final line break. */
  public static String toJson(Object value) {
    try {
      return MAPPER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write " + value.getClass().getSimpleName(), e);
    }
  }

  /** Parses JSON into {@code type}; {@code source} names the input in errors. */
  public static <T> T fromJson(String json, Class<T> type, String source) {
    try {
      return MAPPER.readValue(json, type);
    } catch (UnrecognizedPropertyException e) {
      throw new IllegalArgumentException(
          source
              + ": unknown key \""
              + e.getPropertyName()
              + "\""
              + where(e.getPath().subList(0, e.getPath().size() - 1))
              + "; known keys: "
              + e.getKnownPropertyIds().stream()
                  .map(Object::toString)
                  .sorted()
                  .collect(Collectors.joining(", ")),
          e);
    } catch (JsonMappingException e) {
      throw new IllegalArgumentException(
          source + ": " + e.getOriginalMessage() + where(e.getPath()), e);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(source + ": " + e.getOriginalMessage(), e);
    }
  }

  /** Writes the value to {@code file} as {@link #toJson} with a final line break. */
  public static void write(Path file, Object value) throws IOException {
    Files.writeString(file, toJson(value) + "\n");
  }

  /** Reads {@code file} into {@code type}; errors name the file. */
  public static <T> T read(Path file, Class<T> type) throws IOException {
    return fromJson(Files.readString(file), type, file.toString());
  }

  /** " in configs[2].alignment", or nothing at the top level. */
  private static String where(List<JsonMappingException.Reference> path) {
    StringBuilder at = new StringBuilder();
    for (JsonMappingException.Reference step : path) {
      if (step.getFieldName() != null) {
        at.append(at.isEmpty() ? "" : ".").append(step.getFieldName());
      } else if (step.getIndex() >= 0) {
        at.append('[').append(step.getIndex()).append(']');
      }
    }
    return at.isEmpty() ? "" : " in " + at;
  }
}
