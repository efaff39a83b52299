package dev.genloom.generators;

import dev.genloom.generators.graph.CachePolicy;
import dev.genloom.generators.graph.ForaCache;
import dev.genloom.generators.graph.ScheduledCache;
import dev.genloom.generators.graph.TeaCache;
import dev.genloom.proto.v1.CacheSchedule;
import dev.genloom.proto.v1.ModelManifest;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** Resolves a requested {@link CacheSpec} against a package into a runnable policy. */
public final class CachePolicies {
  private CachePolicies() {}

  /** A fresh policy for one generation; errors name the field {@code cache}. */
  public static CachePolicy resolve(
      ModelManifest manifest, CacheSpec spec, String sampler, int steps) {
    return switch (spec.kind()) {
      case NONE -> CachePolicy.NONE;
      case FORA -> new ForaCache((int) spec.value());
      case TEACACHE -> new TeaCache(spec.value());
      case AUTO -> new ScheduledCache(schedule(manifest, spec.value(), sampler, steps));
    };
  }

  /** The stored schedule for this sampler and step count: the default one, or the given delta. */
  public static CacheSchedule schedule(
      ModelManifest manifest, double delta, String sampler, int steps) {
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
}
