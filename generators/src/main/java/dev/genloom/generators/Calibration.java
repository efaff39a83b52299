package dev.genloom.generators;

import dev.genloom.generators.graph.BlockChangeRecorder;
import dev.genloom.proto.v1.CacheSchedule;
import dev.genloom.proto.v1.ModelManifest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Block-caching calibration (Wimbauer et al., CVPR 2024): uncached generations over a prompt set
 * give each block's mean relative L1 output change per step, from which one schedule per delta is
 * derived.
 */
public final class Calibration {
  private Calibration() {}

  /** Mean relative change per block and step over {@code prompts} x {@code seeds}. */
  public static Map<String, double[]> measure(
      Calibratable generator,
      GenerationSpec settings,
      List<String> prompts,
      int seeds,
      int batchSize,
      IntConsumer progress) {
    BlockChangeRecorder recorder = new BlockChangeRecorder(settings.steps());
    List<GenerationSpec> all = new ArrayList<>();
    for (String prompt : prompts) {
      for (int s = 0; s < seeds; s++) {
        all.add(settings.toBuilder().prompt(prompt).seed(s).cache(CacheSpec.NONE).build());
      }
    }
    for (int start = 0; start < all.size(); start += batchSize) {
      List<GenerationSpec> batch = all.subList(start, Math.min(all.size(), start + batchSize));
      recorder.startGeneration();
      generator.observeUncached(batch, recorder);
      progress.accept(start + batch.size());
    }
    return recorder.meanChanges();
  }

  /**
   * The manifest with the schedules for this sampler and step count replaced by one per delta;
   * {@code defaultDelta} (one of {@code deltas}) is marked as what {@code cache auto} uses.
   */
  public static ModelManifest withSchedules(
      ModelManifest manifest,
      String sampler,
      int steps,
      List<Double> deltas,
      double defaultDelta,
      Map<String, double[]> changes) {
    if (!deltas.contains(defaultDelta)) {
      throw new IllegalArgumentException(
          "default-delta: " + defaultDelta + " is not one of the calibrated deltas " + deltas);
    }
    ModelManifest.Builder builder = manifest.toBuilder().clearCacheSchedules();
    for (CacheSchedule existing : manifest.getCacheSchedulesList()) {
      if (!(existing.getSampler().equals(sampler) && existing.getSteps() == steps)) {
        builder.addCacheSchedules(existing);
      }
    }
    for (double delta : deltas) {
      CacheSchedule schedule =
          dev.genloom.generators.graph.BlockChangeRecorder.schedule(sampler, steps, delta, changes);
      builder.addCacheSchedules(schedule.toBuilder().setIsDefault(delta == defaultDelta));
    }
    return builder.build();
  }

  /** Fraction of cacheable block evaluations a schedule skips. */
  public static double skippedFraction(CacheSchedule schedule) {
    long total = 0;
    long skipped = 0;
    for (CacheSchedule.BlockSchedule block : schedule.getBlocksList()) {
      for (boolean compute : block.getComputeList()) {
        total++;
        skipped += compute ? 0 : 1;
      }
    }
    return total == 0 ? 0 : skipped / (double) total;
  }
}
