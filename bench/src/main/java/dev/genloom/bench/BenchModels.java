package dev.genloom.bench;

import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;

/**
 * The model packages the benchmarks measure, by name; {@link #SHIPPED} names the small models
 * Genloom ships.
 *
 * @param ldm a latent-diffusion image package with stored block-cache schedules
 * @param dit a video DiT package
 * @param arBaseline a Token-Shuffle autoregressive package without shuffling (s = 1)
 * @param arShuffled the same model with token shuffling (s = 2)
 * @param features the feature network that scores FD and alignment
 */
public record BenchModels(
    String ldm, String dit, String arBaseline, String arShuffled, String features) {

  public static final BenchModels SHIPPED =
      new BenchModels("tiny-ldm", "tiny-dit-video", "tiny-ar-s1", "tiny-ar-s2", "shapes-features");

  /** The package called {@code name}; a missing one is a {@link BenchmarkException}. */
  public static ModelPackage require(ModelRepository repository, String name) {
    return repository
        .find(name)
        .orElseThrow(
            () -> new BenchmarkException("model: the benchmark needs the '" + name + "' package"));
  }
}
