package dev.genloom.pipelines;

import dev.genloom.proto.v1.GeneratorConfig;
import java.io.Serializable;
import java.util.List;

/**
 * What one JSONL item changes about the launch's configurations: which of them it runs under, and
 * values that replace the configuration's own. An overridden value is part of the configuration
 * sent to the worker, so it is part of the item's request id.
 *
 * @param configs ids of the grid configurations this item runs under; empty means all of them
 * @param steps denoising steps (0: keep the configuration's)
 * @param guidanceScale guidance scale (NaN: keep the configuration's)
 * @param seeds seeds for this item (0: the launch's {@code --seeds})
 * @param width image width in pixels (0: keep the configuration's)
 * @param height image height in pixels (0: keep the configuration's)
 * @param aspectRatio "W:H" instead of a size ("": keep the configuration's)
 */
public record ItemOverrides(
    List<String> configs,
    int steps,
    double guidanceScale,
    int seeds,
    int width,
    int height,
    String aspectRatio)
    implements Serializable {
  public static final ItemOverrides NONE = new ItemOverrides(List.of(), 0, Double.NaN, 0, 0, 0, "");

  public ItemOverrides {
    configs = List.copyOf(configs);
    aspectRatio = aspectRatio == null ? "" : aspectRatio;
    if ((width == 0) != (height == 0)) {
      throw new IllegalArgumentException(
          "field \"width\" and field \"height\" must be given together");
    }
    if (!aspectRatio.isEmpty() && width != 0) {
      throw new IllegalArgumentException(
          "field \"aspect_ratio\" replaces \"width\" and \"height\"; give one or the other");
    }
  }

  /** An override of steps, guidance and seeds only. */
  public ItemOverrides(List<String> configs, int steps, double guidanceScale, int seeds) {
    this(configs, steps, guidanceScale, seeds, 0, 0, "");
  }

  /** Whether the item runs under the configuration with this id. */
  public boolean selects(String configId) {
    return configs.isEmpty() || configs.contains(configId);
  }

  /** The configuration with this item's overrides applied (the id is kept, for grouping). */
  public GeneratorConfig apply(GeneratorConfig config) {
    if (steps == 0 && Double.isNaN(guidanceScale) && width == 0 && aspectRatio.isEmpty()) {
      return config;
    }
    GeneratorConfig.Builder builder = config.toBuilder();
    if (steps != 0) {
      builder.setSteps(steps);
    }
    if (!Double.isNaN(guidanceScale)) {
      builder.setGuidanceScale((float) guidanceScale);
    }
    if (width != 0) {
      builder.setWidth(width).setHeight(height).clearAspectRatio();
    }
    if (!aspectRatio.isEmpty()) {
      builder.setAspectRatio(aspectRatio).clearWidth().clearHeight();
    }
    return builder.build();
  }

  /** Seeds this item runs with, given the launch's default. */
  public int seedsOr(int launchSeeds) {
    return seeds == 0 ? launchSeeds : seeds;
  }
}
