package dev.genloom.generators;

import dev.genloom.proto.CachePolicyText;
import dev.genloom.proto.v1.CachePolicy;

/**
 * A requested caching policy: {@code none}, {@code auto} (the package's calibrated block-caching
 * schedule, optionally at a given delta), {@code fora:N}, {@code teacache:T}, {@code budget:X} (the
 * calibrated schedule of best measured quality within 1/X of the uncached block evaluations) or
 * {@code floor:psnr=P} (the fastest calibrated schedule whose measured PSNR is at least P dB).
 *
 * @param kind the policy family
 * @param value delta for auto (0 = package default), interval for fora, threshold for teacache, X
 *     for budget, P for floor
 */
public record CacheSpec(Kind kind, double value, int order) {
  public enum Kind {
    NONE,
    AUTO,
    FORA,
    TEACACHE,
    FORECAST,
    BUDGET,
    FLOOR
  }

  public static final CacheSpec NONE = new CacheSpec(Kind.NONE, 0);

  /** A policy with one number; a forecast made this way has order 2. */
  public CacheSpec(Kind kind, double value) {
    this(kind, value, kind == Kind.FORECAST ? 2 : 0);
  }

  /**
   * Parses the command-line form ({@link CachePolicyText}); errors name the field {@code cache}.
   */
  public static CacheSpec parse(String text) {
    CachePolicy policy;
    try {
      policy = CachePolicyText.parse(text);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("cache: " + e.getMessage(), e);
    }
    return of(policy, "cache");
  }

  /**
   * The spec of a protocol policy; errors name {@code field} and the policy's sub-field, e.g.
   * {@code cache_policy.fora.interval}.
   */
  public static CacheSpec of(CachePolicy policy, String field) {
    return switch (policy.getPolicyCase()) {
      case POLICY_NOT_SET, NONE -> NONE;
      case AUTO -> {
        double delta = policy.getAuto().getDelta();
        if (delta < 0 || !Double.isFinite(delta)) {
          throw new IllegalArgumentException(
              field + ".auto.delta: must be 0 (the default schedule) or a finite value > 0");
        }
        yield new CacheSpec(Kind.AUTO, delta);
      }
      case FORA -> {
        if (policy.getFora().getInterval() < 1) {
          throw new IllegalArgumentException(field + ".fora.interval: must be >= 1");
        }
        yield new CacheSpec(Kind.FORA, policy.getFora().getInterval());
      }
      case TEACACHE -> {
        double t = policy.getTeacache().getThreshold();
        if (!(t > 0) || !Double.isFinite(t)) {
          throw new IllegalArgumentException(
              field + ".teacache.threshold: must be a finite value > 0");
        }
        yield new CacheSpec(Kind.TEACACHE, t);
      }
      case FORECAST -> {
        int interval = policy.getForecast().getInterval();
        int order = policy.getForecast().getOrder() == 0 ? 2 : policy.getForecast().getOrder();
        if (interval < 1) {
          throw new IllegalArgumentException(field + ".forecast.interval: must be >= 1");
        }
        if (order > 2 || order < 1) {
          throw new IllegalArgumentException(field + ".forecast.order: must be 1 or 2 (0 = 2)");
        }
        yield new CacheSpec(Kind.FORECAST, interval, order);
      }
      case BUDGET -> {
        double x = policy.getBudget().getSpeedup();
        try {
          CachePolicyText.checkBudget(x);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(field + ".budget.speedup: " + e.getMessage(), e);
        }
        yield new CacheSpec(Kind.BUDGET, x);
      }
      case FLOOR -> {
        double p = policy.getFloor().getMinPsnrDb();
        if (!(p > 0) || !Double.isFinite(p)) {
          throw new IllegalArgumentException(
              field + ".floor.min_psnr_db: must be a finite value > 0 (dB)");
        }
        yield new CacheSpec(Kind.FLOOR, p);
      }
    };
  }

  /** The protocol form. */
  public CachePolicy toProto() {
    CachePolicy.Builder policy = CachePolicy.newBuilder();
    return switch (kind) {
      case NONE -> policy.setNone(CachePolicy.NoCache.getDefaultInstance()).build();
      case AUTO -> policy.setAuto(CachePolicy.AutoCache.newBuilder().setDelta(value)).build();
      case FORA ->
          policy.setFora(CachePolicy.ForaCache.newBuilder().setInterval((int) value)).build();
      case TEACACHE ->
          policy.setTeacache(CachePolicy.TeaCache.newBuilder().setThreshold(value)).build();
      case FORECAST ->
          policy
              .setForecast(
                  CachePolicy.ForecastCache.newBuilder().setInterval((int) value).setOrder(order))
              .build();
      case BUDGET -> policy.setBudget(CachePolicy.Budget.newBuilder().setSpeedup(value)).build();
      case FLOOR ->
          policy.setFloor(CachePolicy.QualityFloor.newBuilder().setMinPsnrDb(value)).build();
    };
  }

  @Override
  public String toString() {
    return switch (kind) {
      case NONE -> "none";
      case AUTO -> value == 0 ? "auto" : "auto:" + value;
      case FORA -> "fora:" + (int) value;
      case TEACACHE -> "teacache:" + value;
      case FORECAST, BUDGET, FLOOR -> CachePolicyText.format(toProto());
    };
  }
}
