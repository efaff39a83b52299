package dev.genloom.cli;

import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.ImageSizes;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.Size;
import picocli.CommandLine.Option;

/** The shared {@code --width}, {@code --height} and {@code --aspect-ratio} options. */
final class SizeOptions {
  @Option(
      names = "--width",
      paramLabel = "PX",
      description = "Image width in pixels (with --height; default: the package's).")
  Integer width;

  @Option(
      names = "--height",
      paramLabel = "PX",
      description = "Image height in pixels (with --width; default: the package's).")
  Integer height;

  @Option(
      names = "--aspect-ratio",
      paramLabel = "W:H",
      description =
          "Instead of --width and --height: the package's aspect-ratio bucket nearest W:H"
              + " (SDXL-style packages).")
  String aspectRatio;

  /** Sets the requested size on {@code spec}; a half-given or conflicting size is refused. */
  void apply(GenerationSpec.Builder spec, ModelManifest manifest) {
    if ((width == null) != (height == null)) {
      throw new IllegalArgumentException("width: give --width and --height together");
    }
    if (aspectRatio != null) {
      if (width != null) {
        throw new IllegalArgumentException(
            "aspect-ratio: give either --aspect-ratio or --width and --height");
      }
      Size bucket = ImageSizes.bucket(manifest, aspectRatio);
      spec.size(bucket.getWidth(), bucket.getHeight());
    }
    if (width != null) {
      spec.size(width, height);
    }
  }
}
