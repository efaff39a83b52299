package dev.genloom.generators;

import dev.genloom.generators.sampling.SamplerKind;
import dev.genloom.generators.sampling.SchedulerConfig;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.Prediction;

/**
 * What the diffusion generators built on a scheduler config read from their package at load: the
 * config, the default sampler, and the check that the denoiser's prediction is the config's.
 */
final class DiffusionPackages {
  private DiffusionPackages() {}

  /**
   * The package's scheduler config: its diffusers {@code scheduler_config.json}, or the equivalent
   * of a tiny package's {@code NoiseSchedule}; errors name the package and file.
   */
  static SchedulerConfig schedulerConfig(ModelPackage pkg) {
    ModelManifest manifest = pkg.manifest();
    String file = manifest.getSchedule().getConfigFile();
    if (file.isEmpty()) {
      return SchedulerConfig.fromNoiseSchedule(
          manifest.getSchedule(),
          manifest.getDenoiser().getPrediction() == Prediction.PREDICTION_UNSPECIFIED
              ? Prediction.PREDICTION_EPSILON
              : manifest.getDenoiser().getPrediction());
    }
    if (!manifest.getSchedule().getType().isEmpty()) {
      throw new ModelPackageException(
          pkg.root().resolve(ModelPackage.MANIFEST_FILE)
              + ": schedule sets both config_file and type; a config file replaces the fields");
    }
    // named by package and file in errors: request-time ones reach remote clients, who have no
    // business with the worker's folders
    try {
      return SchedulerConfig.read(pkg.resolve(file), pkg.name() + "/" + file);
    } catch (IllegalArgumentException e) {
      throw new ModelPackageException(e.getMessage(), e);
    }
  }

  /** The manifest's default sampler; ddim when it names none. */
  static String defaultSampler(ModelManifest manifest) {
    String sampler = manifest.getDefaults().getSampler();
    return sampler.isEmpty() ? SamplerKind.DDIM.wireName() : sampler;
  }

  /** The denoiser's declared prediction (epsilon when unset) must be what the config means. */
  static void checkPrediction(ModelPackage pkg, SchedulerConfig scheduler) {
    ModelManifest manifest = pkg.manifest();
    Prediction declared =
        manifest.getDenoiser().getPrediction() == Prediction.PREDICTION_UNSPECIFIED
            ? Prediction.PREDICTION_EPSILON
            : manifest.getDenoiser().getPrediction();
    Prediction configured = scheduler.prediction(SamplerKind.DDIM);
    if (declared != configured) {
      throw new ModelPackageException(
          pkg.root().resolve(ModelPackage.MANIFEST_FILE)
              + ": denoiser.prediction is "
              + declared
              + " but the scheduler config's prediction_type means "
              + configured);
    }
  }
}
