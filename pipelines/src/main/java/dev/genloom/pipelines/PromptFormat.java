package dev.genloom.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.List;
import java.util.Locale;

/**
 * The prompt file formats: plain text (one prompt per line), JSONL (an object per line with {@code
 * prompt} and optional {@code negative_prompt}, {@code reference_image}, {@code id}, and the
 * per-item {@code configs}, {@code steps}, {@code guidance_scale}, {@code seeds}, {@code width} and
 * {@code height} or {@code aspect_ratio}) and PartiPrompts-style TSV (a header row naming a {@code
 * Prompt} column).
 */
public enum PromptFormat {
  TEXT,
  JSONL,
  TSV;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final KnownKeys ITEM_KEYS =
      new KnownKeys(
          "item",
          List.of(
              "prompt",
              "id",
              "negative_prompt",
              "reference_image",
              "configs",
              "steps",
              "seeds",
              "guidance_scale",
              "width",
              "height",
              "aspect_ratio"));

  /** Picks the format from the file name: {@code .jsonl}/{@code .json}, {@code .tsv}, else text. */
  public static PromptFormat forFile(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    if (lower.endsWith(".jsonl") || lower.endsWith(".json")) {
      return JSONL;
    }
    if (lower.endsWith(".tsv")) {
      return TSV;
    }
    return TEXT;
  }

  /** Whether this line carries no item (blank, or a {@code #} comment in text files). */
  boolean skips(String line) {
    String trimmed = line.strip();
    return trimmed.isEmpty() || (this == TEXT && trimmed.startsWith("#"));
  }

  /**
   * Parses one non-skipped line.
   *
   * @param tsvHeader the TSV header columns (ignored for other formats)
   * @throws IllegalArgumentException naming what is wrong with the line
   */
  PromptItem parse(String source, long line, String text, List<String> tsvHeader) {
    switch (this) {
      case TEXT:
        return new PromptItem(source, line, "", text.strip(), "", "");
      case JSONL:
        return parseJson(source, line, text);
      case TSV:
        return parseTsv(source, line, text, tsvHeader);
      default:
        throw new AssertionError(this);
    }
  }

  private static PromptItem parseJson(String source, long line, String text) {
    JsonNode node;
    try {
      node = JSON.readTree(text);
    } catch (IOException e) {
      throw new IllegalArgumentException("not valid JSON: " + firstLine(e.getMessage()));
    }
    if (node == null || !node.isObject()) {
      throw new IllegalArgumentException("expected a JSON object with a \"prompt\" field");
    }
    ITEM_KEYS.check(node);
    JsonNode prompt = node.get("prompt");
    if (prompt == null || !prompt.isTextual() || prompt.asText().isBlank()) {
      throw new IllegalArgumentException("field \"prompt\" is missing or not a non-empty string");
    }
    return new PromptItem(
        source,
        line,
        optionalText(node, "id"),
        prompt.asText().strip(),
        optionalText(node, "negative_prompt"),
        referenceImage(source, optionalText(node, "reference_image")),
        overrides(node));
  }

  /**
   * A relative local reference is relative to the folder of the prompt file that names it, so a
   * prompt file and its images move together and work from any working directory.
   */
  static String referenceImage(String source, String reference) {
    if (reference.isEmpty()
        || !GeneratePipeline.isLocal(reference)
        || !GeneratePipeline.isLocal(source)
        || java.nio.file.Path.of(reference).isAbsolute()) {
      return reference;
    }
    java.nio.file.Path folder = java.nio.file.Path.of(source).toAbsolutePath().getParent();
    return folder.resolve(reference).normalize().toString();
  }

  private static ItemOverrides overrides(JsonNode node) {
    List<String> configs = new java.util.ArrayList<>();
    JsonNode list = node.get("configs");
    if (list != null && !list.isNull()) {
      if (!list.isArray()) {
        throw new IllegalArgumentException("field \"configs\" must be a list of configuration ids");
      }
      for (JsonNode id : list) {
        if (!id.isTextual() || id.asText().isBlank()) {
          throw new IllegalArgumentException(
              "field \"configs\" must hold non-empty configuration ids");
        }
        configs.add(id.asText());
      }
    }
    int steps = optionalInt(node, "steps", 1, 1000);
    int seeds = optionalInt(node, "seeds", 1, 10_000);
    double guidance = Double.NaN;
    JsonNode g = node.get("guidance_scale");
    if (g != null && !g.isNull()) {
      if (!g.isNumber() || !Double.isFinite(g.asDouble())) {
        throw new IllegalArgumentException("field \"guidance_scale\" must be a finite number");
      }
      guidance = g.asDouble();
    }
    int width = optionalInt(node, "width", 1, 16_384);
    int height = optionalInt(node, "height", 1, 16_384);
    String aspectRatio = optionalText(node, "aspect_ratio");
    if (!aspectRatio.isEmpty()) {
      try {
        aspectRatio = GeneratorConfigs.aspectRatio(aspectRatio);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "field \"aspect_ratio\" must be W:H with positive numbers such as 16:9, got '"
                + aspectRatio
                + "'");
      }
    }
    return new ItemOverrides(configs, steps, guidance, seeds, width, height, aspectRatio);
  }

  private static int optionalInt(JsonNode node, String field, int min, int max) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return 0;
    }
    if (!value.canConvertToInt() || !value.isIntegralNumber()) {
      throw new IllegalArgumentException("field \"" + field + "\" must be an integer");
    }
    int v = value.asInt();
    if (v < min || v > max) {
      throw new IllegalArgumentException(
          "field \"" + field + "\" must be in " + min + ".." + max + ", got " + v);
    }
    return v;
  }

  private static String optionalText(JsonNode node, String field) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return "";
    }
    if (!value.isValueNode()) {
      throw new IllegalArgumentException("field \"" + field + "\" must be a string");
    }
    return value.asText();
  }

  private static PromptItem parseTsv(String source, long line, String text, List<String> header) {
    int column = header.indexOf("Prompt");
    if (column < 0) {
      throw new IllegalArgumentException("TSV header has no \"Prompt\" column: " + header);
    }
    String[] cells = text.split("\t", -1);
    if (cells.length <= column || cells[column].isBlank()) {
      throw new IllegalArgumentException("TSV row has no value in the \"Prompt\" column");
    }
    return new PromptItem(source, line, "", cells[column].strip(), "", "");
  }

  private static String firstLine(String message) {
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }
}
