package dev.genloom.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.genloom.proto.SamplerNames;
import dev.genloom.proto.v1.CachePolicy;
import dev.genloom.proto.v1.GeneratorConfig;
import dev.genloom.proto.v1.Sampler;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Parses a comparison grid: {@code {"models": [...], "cache": ["none", "auto"], "steps": [20, 50],
 * "samplers": ["ddim"], "sizes": ["512x512", "768x512", "16:9"]}}; every combination becomes one
 * {@link GeneratorConfig}. A size is WIDTHxHEIGHT in pixels or W:H, an aspect ratio the model
 * resolves to its nearest bucket. Omitted axes use the model's defaults. A file may also hold a
 * list of such grids, each with an optional {@code "label"} that replaces the model name at the
 * start of its configuration ids (so two grids over one model stay apart).
 */
public final class GeneratorConfigs {
  private GeneratorConfigs() {}

  public static List<GeneratorConfig> single(String model) {
    return List.of(GeneratorConfig.newBuilder().setId(model).setModel(model).build());
  }

  /**
   * Parses a grid file: one grid object, or a list of them whose configurations are concatenated.
   * Configuration ids must be unique across the file.
   */
  public static List<GeneratorConfig> parse(String json, String source) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "grid: " + source + " is not valid JSON: " + e.getMessage());
    }
    if (root == null || !(root.isObject() || root.isArray())) {
      throw new IllegalArgumentException(
          "grid: " + source + " must hold a grid object or a list of grid objects");
    }
    List<GeneratorConfig> configs = new ArrayList<>();
    for (JsonNode grid : root.isArray() ? root : List.of(root)) {
      if (!grid.isObject()) {
        throw new IllegalArgumentException(
            "grid: every entry of the list in " + source + " must be a grid object");
      }
      configs.addAll(parseGrid(grid, source));
    }
    java.util.Set<String> ids = new java.util.HashSet<>();
    configs.forEach(c -> ids.add(c.getId()));
    for (GeneratorConfig config : configs) {
      if (!config.getBaseline().isEmpty() && !ids.contains(config.getBaseline())) {
        throw new IllegalArgumentException(
            "grid: baseline '"
                + config.getBaseline()
                + "' of configuration "
                + config.getId()
                + " is not a configuration id in "
                + source
                + "; ids: "
                + configs.stream().map(GeneratorConfig::getId).toList());
      }
    }
    ids.clear();
    for (GeneratorConfig config : configs) {
      if (!ids.add(config.getId())) {
        throw new IllegalArgumentException(
            "grid: configuration id '"
                + config.getId()
                + "' appears twice in "
                + source
                + "; give one of the grids a distinct \"label\"");
      }
    }
    return configs;
  }

  private static final KnownKeys GRID_KEYS =
      new KnownKeys(
          "grid", List.of("label", "models", "cache", "steps", "samplers", "sizes", "baseline"));

  private static List<GeneratorConfig> parseGrid(JsonNode root, String source) {
    try {
      GRID_KEYS.check(root);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(e.getMessage() + " (in " + source + ")", e);
    }
    JsonNode labelNode = root.get("label");
    String label = labelNode == null || labelNode.isNull() ? "" : labelNode.asText().strip();
    if (!label.isEmpty() && !label.matches("[A-Za-z0-9._-]+")) {
      throw new IllegalArgumentException(
          "grid: label '" + label + "' may use only letters, digits, '.', '_' and '-'");
    }
    JsonNode baselineNode = root.get("baseline");
    if (baselineNode != null && !baselineNode.isNull() && !baselineNode.isTextual()) {
      throw new IllegalArgumentException(
          "grid: \"baseline\" in " + source + " must be a configuration id (a string)");
    }
    String baseline = baselineNode == null || baselineNode.isNull() ? "" : baselineNode.asText();
    List<String> models = strings(root, "models", source);
    if (models.isEmpty()) {
      throw new IllegalArgumentException(
          "grid: " + source + " must list at least one model in \"models\"");
    }
    List<String> caches = orDefault(strings(root, "cache", source), "");
    List<String> samplers = orDefault(strings(root, "samplers", source), "");
    List<Integer> steps = new ArrayList<>();
    for (String s : strings(root, "steps", source)) {
      int step;
      try {
        step = Integer.parseInt(s);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("grid: steps must be integers, got '" + s + "'");
      }
      if (step < 1 || step > 1000) {
        throw new IllegalArgumentException(
            "grid: steps must be in 1..1000 (leave \"steps\" out for the model's default), got "
                + step);
      }
      steps.add(step);
    }
    if (steps.isEmpty()) {
      steps.add(0); // the model's default
    }
    List<String> sizes = orDefault(strings(root, "sizes", source), "");
    for (String s : sizes) {
      if (!s.isEmpty() && !s.contains(":")) {
        size(s);
      }
    }
    List<GeneratorConfig> configs = new ArrayList<>();
    for (String model : models) {
      for (String sampler : samplers) {
        for (int step : steps) {
          for (String cache : caches) {
            for (String size : sizes) {
              GeneratorConfig.Builder config =
                  GeneratorConfig.newBuilder().setModel(model).setSteps(step);
              StringBuilder id = new StringBuilder(label.isEmpty() ? model : label);
              if (!sampler.isEmpty()) {
                config.setSampler(sampler(sampler));
                id.append('_').append(sampler);
              }
              if (step > 0) {
                id.append('_').append(step);
              }
              if (!cache.isEmpty()) {
                config.setCachePolicy(cache(cache));
                id.append('_').append(cache.replaceAll("[^A-Za-z0-9._-]", "-"));
              }
              if (size.contains(":")) {
                config.setAspectRatio(aspectRatio(size));
                id.append('_').append(config.getAspectRatio().replace(':', '-'));
              } else if (!size.isEmpty()) {
                int[] wh = size(size);
                config.setWidth(wh[0]).setHeight(wh[1]);
                id.append('_').append(wh[0]).append('x').append(wh[1]);
              }
              if (!baseline.equals(id.toString())) {
                config.setBaseline(baseline);
              }
              configs.add(config.setId(id.toString()).build());
            }
          }
        }
      }
    }
    return configs;
  }

  /** "W:H" with two positive numbers, as written (whitespace removed). */
  static String aspectRatio(String text) {
    String ratio = text.replaceAll("\\s", "");
    String[] parts = ratio.split(":");
    try {
      if (parts.length == 2
          && Double.parseDouble(parts[0]) > 0
          && Double.parseDouble(parts[1]) > 0
          && ratio.matches("[0-9.]+:[0-9.]+")) {
        return ratio;
      }
    } catch (NumberFormatException e) {
      // fall through to the error below
    }
    throw new IllegalArgumentException(
        "grid: sizes must hold aspect ratios as W:H with positive numbers such as 16:9, got '"
            + text
            + "'");
  }

  /** "WxH" in pixels, both positive. */
  static int[] size(String text) {
    String[] parts = text.strip().toLowerCase(Locale.ROOT).split("x");
    try {
      if (parts.length == 2) {
        int w = Integer.parseInt(parts[0]);
        int h = Integer.parseInt(parts[1]);
        if (w > 0 && h > 0) {
          return new int[] {w, h};
        }
      }
    } catch (NumberFormatException e) {
      // fall through to the error below
    }
    throw new IllegalArgumentException(
        "grid: sizes must be WIDTHxHEIGHT in pixels such as 512x512, got '" + text + "'");
  }

  private static List<String> orDefault(List<String> values, String fallback) {
    return values.isEmpty() ? List.of(fallback) : values;
  }

  private static List<String> strings(JsonNode root, String field, String source) {
    JsonNode node = root.get(field);
    List<String> out = new ArrayList<>();
    if (node == null || node.isNull()) {
      return out;
    }
    if (!node.isArray()) {
      throw new IllegalArgumentException(
          "grid: \"" + field + "\" in " + source + " must be a list");
    }
    node.forEach(v -> out.add(v.asText()));
    return out;
  }

  static Sampler sampler(String name) {
    try {
      return SamplerNames.parse(name);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("grid: " + e.getMessage(), e);
    }
  }

  static CachePolicy cache(String text) {
    try {
      return dev.genloom.proto.CachePolicyText.parse(text);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("grid: cache: " + e.getMessage(), e);
    }
  }
}
