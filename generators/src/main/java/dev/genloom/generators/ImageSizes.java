package dev.genloom.generators;

import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.Size;
import dev.genloom.proto.v1.SizeConstraint;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The pixel sizes a package serves: any multiple of the manifest's {@code size_constraint} within
 * its range, or, without a constraint, exactly the listed {@code supported_sizes}. Requests may
 * also name an aspect ratio, which picks the nearest of the package's buckets (SDXL).
 */
public final class ImageSizes {
  private ImageSizes() {}

  /** Refuses a size the package cannot serve; the message names {@code width} and the rule. */
  public static void check(ModelManifest manifest, int width, int height) {
    if (width <= 0 || height <= 0) {
      throw new IllegalArgumentException(
          "width: width and height must both be positive, got " + width + "x" + height);
    }
    SizeConstraint c = manifest.getSizeConstraint();
    if (c.getMultipleOf() > 0) {
      String rule = describe(c);
      if (width % c.getMultipleOf() != 0 || height % c.getMultipleOf() != 0) {
        throw new IllegalArgumentException(
            String.format(
                Locale.ROOT,
                "width: %dx%d is not a multiple of %d; model '%s' serves %s",
                width,
                height,
                c.getMultipleOf(),
                manifest.getName(),
                rule));
      }
      if (width < c.getMinWidth()
          || height < c.getMinHeight()
          || (c.getMaxWidth() > 0 && width > c.getMaxWidth())
          || (c.getMaxHeight() > 0 && height > c.getMaxHeight())) {
        throw new IllegalArgumentException(
            String.format(
                Locale.ROOT,
                "width: %dx%d is outside the sizes model '%s' serves: %s",
                width,
                height,
                manifest.getName(),
                rule));
      }
      return;
    }
    for (Size size : manifest.getSupportedSizesList()) {
      if (size.getWidth() == width && size.getHeight() == height) {
        return;
      }
    }
    if (manifest.getSupportedSizesCount() == 0
        && manifest.getDefaults().getWidth() == width
        && manifest.getDefaults().getHeight() == height) {
      return;
    }
    throw new IllegalArgumentException(
        "width: "
            + width
            + "x"
            + height
            + " is not a size model '"
            + manifest.getName()
            + "' supports (it serves "
            + manifest.getSupportedSizesList().stream()
                .map(s -> s.getWidth() + "x" + s.getHeight())
                .collect(Collectors.joining(", "))
            + ")");
  }

  /**
   * The bucket whose aspect ratio is nearest {@code ratio} ("W:H", e.g. "16:9"), by the distance of
   * the logarithms of the ratios; ties go to the bucket listed first.
   */
  public static Size bucket(ModelManifest manifest, String ratio) {
    String[] parts = ratio.strip().split(":");
    double w;
    double h;
    try {
      if (parts.length != 2) {
        throw new NumberFormatException();
      }
      w = Double.parseDouble(parts[0].strip());
      h = Double.parseDouble(parts[1].strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "aspect_ratio: expected W:H such as 16:9, got '" + ratio + "'");
    }
    if (!(w > 0 && h > 0) || !Double.isFinite(w) || !Double.isFinite(h)) {
      throw new IllegalArgumentException(
          "aspect_ratio: both sides must be positive, got '" + ratio + "'");
    }
    if (manifest.getSizeConstraint().getBucketsCount() == 0) {
      throw new IllegalArgumentException(
          "aspect_ratio: model '"
              + manifest.getName()
              + "' states no aspect-ratio buckets; set width and height instead");
    }
    double target = Math.log(w / h);
    Size best = null;
    double bestDistance = Double.POSITIVE_INFINITY;
    for (Size bucket : manifest.getSizeConstraint().getBucketsList()) {
      double d = Math.abs(Math.log((double) bucket.getWidth() / bucket.getHeight()) - target);
      if (d < bestDistance - 1e-12) {
        best = bucket;
        bestDistance = d;
      }
    }
    return best;
  }

  private static String describe(SizeConstraint c) {
    StringBuilder s =
        new StringBuilder(
            String.format(
                Locale.ROOT,
                "multiples of %d, width %d..%s, height %d..%s",
                c.getMultipleOf(),
                Math.max(c.getMinWidth(), c.getMultipleOf()),
                c.getMaxWidth() > 0 ? Integer.toString(c.getMaxWidth()) : "any",
                Math.max(c.getMinHeight(), c.getMultipleOf()),
                c.getMaxHeight() > 0 ? Integer.toString(c.getMaxHeight()) : "any"));
    if (c.getBucketsCount() > 0) {
      s.append("; buckets ")
          .append(
              c.getBucketsList().stream()
                  .map(b -> b.getWidth() + "x" + b.getHeight())
                  .collect(Collectors.joining(", ")));
    }
    return s.toString();
  }
}
