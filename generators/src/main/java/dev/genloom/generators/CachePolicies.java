package dev.genloom.generators;

import dev.genloom.generators.graph.CachePolicy;
import dev.genloom.generators.graph.ForaCache;
import dev.genloom.generators.graph.ForecastCache;
import dev.genloom.generators.graph.ScheduledCache;
import dev.genloom.generators.graph.TeaCache;
import dev.genloom.proto.v1.CacheSchedule;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.QualityFigure;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.stream.Collectors;

/** Resolves a requested {@link CacheSpec} against a package into a runnable policy. */
public final class CachePolicies {
  private CachePolicies() {}

  /**
   * What a request's policy resolves to for this sampler and step count: the calibrated schedule it
   * picked (for auto, budget and floor), and a description naming it with its calibrated figures.
   *
   * @param schedule empty for none, fora, teacache, and a floor no schedule reaches
   * @param description for logs and result stats
   */
  public record Choice(CacheSpec spec, Optional<CacheSchedule> schedule, String description) {
    /** The calibrated figures of the picked schedule; empty without one. */
    public List<QualityFigure> figures() {
      return schedule.map(CacheSchedule::getFiguresList).orElse(List.of());
    }

    /** A fresh policy for one generation. */
    public CachePolicy policy() {
      return switch (spec.kind()) {
        case NONE -> CachePolicy.NONE;
        case FORA -> new ForaCache((int) spec.value());
        case TEACACHE -> new TeaCache(spec.value());
        case FORECAST -> new ForecastCache((int) spec.value(), spec.order());
        case AUTO, BUDGET, FLOOR ->
            schedule.<CachePolicy>map(ScheduledCache::new).orElse(CachePolicy.NONE);
      };
    }
  }

  /** A fresh policy for one generation; errors name the field {@code cache}. */
  public static CachePolicy resolve(
      ModelManifest manifest, CacheSpec spec, String sampler, int steps) {
    return choose(manifest, spec, sampler, steps).policy();
  }

  /** Resolves {@code spec} against the package's schedules; errors name the field {@code cache}. */
  public static Choice choose(ModelManifest manifest, CacheSpec spec, String sampler, int steps) {
    return switch (spec.kind()) {
      case NONE, FORA, FORECAST, TEACACHE -> new Choice(spec, Optional.empty(), spec.toString());
      case AUTO -> {
        CacheSchedule picked = schedule(manifest, spec.value(), sampler, steps);
        yield new Choice(spec, Optional.of(picked), describe(picked, spec));
      }
      case BUDGET -> budget(manifest, spec, sampler, steps);
      case FLOOR -> floor(manifest, spec, sampler, steps);
    };
  }

  /** The best-PSNR calibrated schedule whose block-evaluation share is at most 1/X. */
  private static Choice budget(ModelManifest manifest, CacheSpec spec, String sampler, int steps) {
    List<CacheSchedule> measured = measured(manifest, spec, sampler, steps);
    double share = 1 / spec.value();
    Optional<CacheSchedule> best =
        measured.stream()
            .filter(s -> figure(s, Calibration.BLOCK_EVAL_SHARE).getAsDouble() <= share + 1e-9)
            .max(
                Comparator.comparingDouble((CacheSchedule s) -> quality(s))
                    .thenComparingDouble(s -> figure(s, Calibration.SSIM).orElse(0))
                    .thenComparingDouble(
                        s -> -figure(s, Calibration.BLOCK_EVAL_SHARE).getAsDouble()));
    if (best.isEmpty()) {
      CacheSchedule leanest =
          measured.stream()
              .min(
                  Comparator.comparingDouble(
                      s -> figure(s, Calibration.BLOCK_EVAL_SHARE).getAsDouble()))
              .orElseThrow();
      double least = figure(leanest, Calibration.BLOCK_EVAL_SHARE).getAsDouble();
      throw new IllegalArgumentException(
          String.format(
              Locale.ROOT,
              "cache: budget:%s asks for at most %.1f%% of the uncached block evaluations; the"
                  + " leanest calibrated schedule of '%s' for %s/%d (delta %s) evaluates %.1f%%,"
                  + " so the largest budget it meets is budget:%.2f (or calibrate larger deltas)",
              number(spec.value()),
              100 * share,
              manifest.getName(),
              sampler,
              steps,
              leanest.getDelta(),
              100 * least,
              Math.floor(100 / least) / 100));
    }
    return new Choice(spec, best, describe(best.get(), spec));
  }

  /**
   * The calibrated schedule with the highest measured wall speedup (then the lowest block share)
   * whose PSNR is at least P; no caching when none is, which always meets the floor.
   */
  private static Choice floor(ModelManifest manifest, CacheSpec spec, String sampler, int steps) {
    List<CacheSchedule> measured = measured(manifest, spec, sampler, steps);
    Optional<CacheSchedule> fastest =
        measured.stream()
            .filter(s -> quality(s) >= spec.value())
            .max(
                Comparator.comparingDouble(
                        (CacheSchedule s) -> figure(s, Calibration.WALL_SPEEDUP).orElse(1))
                    .thenComparingDouble(
                        s -> -figure(s, Calibration.BLOCK_EVAL_SHARE).getAsDouble()));
    if (fastest.isEmpty()) {
      double best = measured.stream().mapToDouble(CachePolicies::quality).max().orElse(0);
      return new Choice(
          spec,
          Optional.empty(),
          String.format(
              Locale.ROOT,
              "none for %s: no calibrated schedule for %s/%d reaches %s dB (the best has %.2f"
                  + " dB)",
              spec,
              sampler,
              steps,
              number(spec.value()),
              best));
    }
    return new Choice(spec, fastest, describe(fastest.get(), spec));
  }

  /** The schedules for this sampler and step count; every one must carry calibrated quality. */
  private static List<CacheSchedule> measured(
      ModelManifest manifest, CacheSpec spec, String sampler, int steps) {
    List<CacheSchedule> candidates = candidates(manifest, sampler, steps);
    for (CacheSchedule s : candidates) {
      if (figure(s, Calibration.BLOCK_EVAL_SHARE).isEmpty()
          || figure(s, Calibration.PSNR_DB).isEmpty()) {
        throw new IllegalArgumentException(
            "cache: "
                + spec
                + " picks from measured quality, and the schedules of '"
                + manifest.getName()
                + "' for "
                + sampler
                + "/"
                + steps
                + " have none (delta "
                + s.getDelta()
                + " lacks "
                + Calibration.BLOCK_EVAL_SHARE
                + " or "
                + Calibration.PSNR_DB
                + "); run 'genloom models calibrate' again");
      }
    }
    return candidates;
  }

  /** PSNR of a schedule against uncached, in dB. */
  private static double quality(CacheSchedule schedule) {
    return figure(schedule, Calibration.PSNR_DB).orElse(0);
  }

  /** The value of {@code metric} among the schedule's calibrated figures. */
  public static OptionalDouble figure(CacheSchedule schedule, String metric) {
    return schedule.getFiguresList().stream()
        .filter(f -> f.getMetric().equals(metric))
        .mapToDouble(QualityFigure::getValue)
        .findFirst();
  }

  /** e.g. {@code auto(ddim/50, delta=0.2) for budget:2: share 0.45, speedup 1.9x, 31.2 dB}. */
  private static String describe(CacheSchedule schedule, CacheSpec spec) {
    StringBuilder text =
        new StringBuilder(new ScheduledCache(schedule).describe())
            .append(spec.kind() == CacheSpec.Kind.AUTO ? "" : " for " + spec);
    OptionalDouble share = figure(schedule, Calibration.BLOCK_EVAL_SHARE);
    if (share.isPresent()) {
      text.append(
          String.format(
              Locale.ROOT,
              ": calibrated block share %.3f, speedup %.2fx, PSNR %.2f dB, SSIM %.4f",
              share.getAsDouble(),
              figure(schedule, Calibration.WALL_SPEEDUP).orElse(Double.NaN),
              figure(schedule, Calibration.PSNR_DB).orElse(Double.NaN),
              figure(schedule, Calibration.SSIM).orElse(Double.NaN)));
    }
    return text.toString();
  }

  /** The stored schedule for this sampler and step count: the default one, or the given delta. */
  public static CacheSchedule schedule(
      ModelManifest manifest, double delta, String sampler, int steps) {
    List<CacheSchedule> candidates = candidates(manifest, sampler, steps);
    if (delta == 0) {
      return candidates.stream()
          .filter(CacheSchedule::getIsDefault)
          .findFirst()
          .orElse(candidates.get(0));
    }
    return candidates.stream()
        .filter(s -> Math.abs(s.getDelta() - delta) <= 1e-9 * Math.max(1, delta))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    String.format(
                        Locale.ROOT,
                        "cache: no schedule with delta %s for %s/%d (stored deltas: %s)",
                        delta,
                        sampler,
                        steps,
                        candidates.stream()
                            .map(s -> Double.toString(s.getDelta()))
                            .collect(Collectors.joining(", ")))));
  }

  /** The stored schedules for this sampler and step count; none is an error naming the cure. */
  private static List<CacheSchedule> candidates(ModelManifest manifest, String sampler, int steps) {
    List<CacheSchedule> candidates =
        manifest.getCacheSchedulesList().stream()
            .filter(s -> s.getSampler().equals(sampler) && s.getSteps() == steps)
            .toList();
    if (candidates.isEmpty()) {
      String available =
          manifest.getCacheSchedulesList().stream()
              .map(s -> s.getSampler() + "/" + s.getSteps())
              .distinct()
              .collect(Collectors.joining(", "));
      throw new IllegalArgumentException(
          "cache: model '"
              + manifest.getName()
              + "' has no calibrated block-caching schedule for sampler "
              + sampler
              + " with "
              + steps
              + " steps"
              + (available.isEmpty() ? "" : " (calibrated: " + available + ")")
              + "; run 'genloom models calibrate' or use fora:N / teacache:T");
    }
    return candidates;
  }

  private static String number(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }

  /** The row policies of a batch whose items ask for {@code caches}, resolved on the package. */
  public static List<dev.genloom.generators.graph.LaneExecutor.RowPolicy> rows(
      ModelManifest manifest, List<CacheSpec> caches, String sampler, int steps, boolean guided) {
    return rows(caches.stream().map(c -> choose(manifest, c, sampler, steps)).toList(), guided);
  }

  /**
   * The row policies of a batched denoiser call: item {@code b}'s choice for row {@code b} and,
   * with guidance, for row {@code B + b} too (rows are [unconditional; conditional]).
   */
  public static List<dev.genloom.generators.graph.LaneExecutor.RowPolicy> rows(
      List<Choice> items, boolean guided) {
    List<dev.genloom.generators.graph.LaneExecutor.RowPolicy> rows = new java.util.ArrayList<>();
    int copies = guided ? 2 : 1;
    for (int c = 0; c < copies; c++) {
      for (Choice choice : items) {
        rows.add(
            new dev.genloom.generators.graph.LaneExecutor.RowPolicy(
                choice.description(),
                choice.spec().kind() == CacheSpec.Kind.TEACACHE,
                choice::policy));
      }
    }
    return rows;
  }
}
