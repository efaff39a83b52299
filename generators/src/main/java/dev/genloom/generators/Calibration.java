package dev.genloom.generators;

import dev.genloom.generators.graph.BlockChangeRecorder;
import dev.genloom.proto.v1.CacheSchedule;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.QualityFigure;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Block-caching calibration (Wimbauer et al., CVPR 2024): uncached generations over a prompt set
 * give each block's mean relative L1 output change per step, from which one schedule per delta is
 * derived. Each schedule's cost and quality are then measured against the uncached generations of
 * the same prompts and seeds ({@link #quality}).
 */
public final class Calibration {
  /** Block evaluations of the cached generations over those of the uncached ones. */
  public static final String BLOCK_EVAL_SHARE = "block_eval_share";

  /** Wall time of the uncached generations over that of the cached ones. */
  public static final String WALL_SPEEDUP = "wall_speedup";

  /** Mean PSNR of each cached generation against its uncached one, each capped at 100 dB. */
  public static final String PSNR_DB = "psnr_db";

  /** Mean SSIM of each cached generation against its uncached one. */
  public static final String SSIM = "ssim";

  /** The PSNR a generation equal to its uncached one counts as, so that means stay finite. */
  public static final double PSNR_CAP_DB = 100;

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
   * Measures each delta's stored schedule against uncached generation: the calibration prompts x
   * seeds run uncached and with each delta's schedule, on the same noise, batch by batch in turn
   * (after one untimed warm-up batch), so that a machine getting faster or slower over the run
   * weighs on every configuration alike. {@code generator} must have been opened on the package
   * with the schedules stored; seeds run from {@code firstSeed}. Returns the figures per delta, in
   * the order of {@code deltas}.
   */
  public static Map<Double, List<QualityFigure>> quality(
      Generator generator,
      GenerationSpec settings,
      List<String> prompts,
      int seeds,
      int firstSeed,
      int batchSize,
      List<Double> deltas,
      IntConsumer progress) {
    List<GenerationSpec> uncached = new ArrayList<>();
    for (String prompt : prompts) {
      for (int s = firstSeed; s < firstSeed + seeds; s++) {
        uncached.add(settings.toBuilder().prompt(prompt).seed(s).cache(CacheSpec.NONE).build());
      }
    }
    generator.generate(
        uncached.subList(0, Math.min(batchSize, uncached.size())), ProgressListener.NONE);
    int configs = deltas.size() + 1;
    long[] nanos = new long[configs];
    long[] evaluations = new long[configs];
    double[] psnr = new double[configs];
    double[] ssim = new double[configs];
    int done = 0;
    for (int from = 0; from < uncached.size(); from += batchSize) {
      List<GenerationSpec> batch =
          uncached.subList(from, Math.min(uncached.size(), from + batchSize));
      List<GeneratedMedia> reference = null;
      for (int c = 0; c < configs; c++) {
        CacheSpec cache =
            c == 0 ? CacheSpec.NONE : new CacheSpec(CacheSpec.Kind.AUTO, deltas.get(c - 1));
        List<GenerationSpec> specs =
            batch.stream().map(s -> s.toBuilder().cache(cache).build()).toList();
        long start = System.nanoTime();
        List<GeneratedMedia> media = generator.generate(specs, ProgressListener.NONE);
        nanos[c] += System.nanoTime() - start;
        for (int i = 0; i < media.size(); i++) {
          evaluations[c] += media.get(i).blockEvaluations();
          if (c == 0) {
            continue;
          }
          List<RgbImage> a = reference.get(i).frames();
          List<RgbImage> b = media.get(i).frames();
          psnr[c] += Math.min(PSNR_CAP_DB, ImageSimilarity.psnr(a, b));
          ssim[c] += ImageSimilarity.ssim(a, b);
        }
        if (c == 0) {
          reference = media;
        }
        done += media.size();
        progress.accept(done);
      }
    }
    String setting =
        String.format(
            Locale.ROOT,
            "%s %d steps, %d calibration prompts x %d seeds, against uncached on the same noise",
            settings.sampler(),
            settings.steps(),
            prompts.size(),
            seeds);
    int n = uncached.size();
    Map<Double, List<QualityFigure>> figures = new LinkedHashMap<>();
    for (int c = 1; c < configs; c++) {
      figures.put(
          deltas.get(c - 1),
          List.of(
              figure(BLOCK_EVAL_SHARE, evaluations[c] / (double) evaluations[0], n, setting),
              figure(WALL_SPEEDUP, nanos[0] / (double) nanos[c], n, setting),
              figure(PSNR_DB, psnr[c] / n, n, setting),
              figure(SSIM, ssim[c] / n, n, setting)));
    }
    return figures;
  }

  private static QualityFigure figure(String metric, double value, int samples, String setting) {
    return QualityFigure.newBuilder()
        .setMetric(metric)
        .setValue(value)
        .setSamples(samples)
        .setSetting(setting)
        .build();
  }

  /** The manifest with each delta's schedule for this sampler and step count given its figures. */
  public static ModelManifest withQuality(
      ModelManifest manifest, String sampler, int steps, Map<Double, List<QualityFigure>> figures) {
    ModelManifest.Builder builder = manifest.toBuilder();
    for (CacheSchedule.Builder schedule : builder.getCacheSchedulesBuilderList()) {
      List<QualityFigure> measured = figures.get(schedule.getDelta());
      if (schedule.getSampler().equals(sampler)
          && schedule.getSteps() == steps
          && measured != null) {
        schedule.clearFigures().addAllFigures(measured);
      }
    }
    return builder.build();
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
