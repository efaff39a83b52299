package dev.genloom.generators;

import ai.djl.Device;

/** Opens the generator implementation a package's kind calls for. */
public final class Generators {
  private Generators() {}

  public static Generator open(ModelPackage pkg, Device device) {
    return switch (pkg.kind()) {
      case MODEL_KIND_LATENT_DIFFUSION -> new LatentDiffusion(pkg, device);
      case MODEL_KIND_AR_TOKEN_SHUFFLE -> new TokenShuffleAR(pkg, device);
      case MODEL_KIND_DIT_VIDEO -> new DiTVideo(pkg, device);
      case MODEL_KIND_LATENT_VIDEO -> new LatentVideoDiffusion(pkg, device);
      default ->
          throw new ModelPackageException(
              pkg.root().resolve(ModelPackage.MANIFEST_FILE)
                  + ": no generator for kind "
                  + pkg.kind()
                  + " in this build");
    };
  }

  /** Parses the configured device: "cpu" or "gpu:N". */
  public static Device device(String name) {
    if (name.equals("cpu")) {
      return Device.cpu();
    }
    if (name.startsWith("gpu:")) {
      try {
        return Device.gpu(Integer.parseInt(name.substring(4)));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("device: expected gpu:N, got '" + name + "'");
      }
    }
    throw new IllegalArgumentException("device: expected cpu or gpu:N, got '" + name + "'");
  }
}
