package dev.genloom.generators;

import java.util.List;

/**
 * Turns generation specs into media with one model package. Implementations are chosen by the
 * manifest's kind ({@link Generators#open}). Thread-safe: concurrent calls use per-thread DJL
 * predictors over shared models.
 */
public interface Generator extends AutoCloseable {
  ModelPackage pkg();

  /** A spec for {@code prompt} with every setting at the package's defaults. */
  GenerationSpec defaults(String prompt, long seed);

  /**
   * Generates a batch in one set of batched forwards. Every spec must share the same {@link
   * GenerationSpec#batchKey()}; results are in input order and equal what each spec would give
   * alone.
   */
  List<GeneratedMedia> generate(List<GenerationSpec> batch, ProgressListener progress);

  /** Checks a spec against what the model supports; messages name the field. */
  void validate(GenerationSpec spec);

  @Override
  void close();

  /**
   * The scheduler name this package's block-caching schedules are stored under for {@code spec}:
   * its sampler, or the one sampler a kind runs (a DiT video's flow-matching Euler).
   */
  default String cacheSampler(GenerationSpec spec) {
    return spec.sampler();
  }

  /**
   * What {@code spec}'s cache policy resolves to on this package: the calibrated schedule it picks
   * and a description with its calibrated figures, for result stats.
   */
  default CachePolicies.Choice cacheChoice(GenerationSpec spec) {
    return CachePolicies.choose(pkg().manifest(), spec.cache(), cacheSampler(spec), spec.steps());
  }

  /**
   * Loads every component now instead of when a request first needs it: for a benchmark that times
   * the load, or a worker that wants no first-request latency.
   */
  default void preload() {}

  /**
   * The resident memory the loaded components added to this process, in bytes (see {@link
   * LoadedComponents#residentBytes}).
   */
  default long residentBytes() {
    return 0;
  }
}
