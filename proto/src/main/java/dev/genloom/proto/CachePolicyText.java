package dev.genloom.proto;

import dev.genloom.proto.v1.CachePolicy;
import java.util.Locale;

/**
 * The one text form of a {@link CachePolicy}, shared by the command line, grid files and the OpenAI
 * endpoint: {@code none}, {@code auto}, {@code auto:DELTA}, {@code fora:N}, {@code teacache:T},
 * {@code budget:X} and {@code floor:psnr=P}.
 */
public final class CachePolicyText {
  /** What {@link #parse} accepts, for error messages and help. */
  public static final String FORMS =
      "none, auto, auto:DELTA, fora:N, forecast:N, forecast:N:ORDER, teacache:T, budget:X or"
          + " floor:psnr=P";

  private CachePolicyText() {}

  /**
   * Parses the text form. Errors say what is wrong without a field name; callers prefix theirs.
   *
   * @throws IllegalArgumentException for anything but the forms of {@link #FORMS} with valid
   *     numbers
   */
  public static CachePolicy parse(String text) {
    String value = text.strip().toLowerCase(Locale.ROOT);
    CachePolicy.Builder policy = CachePolicy.newBuilder();
    try {
      if (value.equals("none")) {
        return policy.setNone(CachePolicy.NoCache.getDefaultInstance()).build();
      }
      if (value.equals("auto")) {
        return policy.setAuto(CachePolicy.AutoCache.getDefaultInstance()).build();
      }
      if (value.startsWith("auto:")) {
        double delta = positive(value.substring(5), "auto delta");
        return policy.setAuto(CachePolicy.AutoCache.newBuilder().setDelta(delta)).build();
      }
      if (value.startsWith("fora:")) {
        int interval = Integer.parseInt(value.substring(5));
        if (interval < 1) {
          throw new IllegalArgumentException("the fora interval must be >= 1, got " + interval);
        }
        return policy.setFora(CachePolicy.ForaCache.newBuilder().setInterval(interval)).build();
      }
      if (value.startsWith("forecast:")) {
        String[] parts = value.substring(9).split(":", -1);
        if (parts.length > 2) {
          throw new IllegalArgumentException(
              "a forecast is forecast:N or forecast:N:ORDER, got '" + text.strip() + "'");
        }
        int interval = Integer.parseInt(parts[0]);
        int order = parts.length == 2 ? Integer.parseInt(parts[1]) : 2;
        if (interval < 1) {
          throw new IllegalArgumentException("the forecast interval must be >= 1, got " + interval);
        }
        if (order < 1 || order > 2) {
          throw new IllegalArgumentException("the forecast order must be 1 or 2, got " + order);
        }
        return policy
            .setForecast(
                CachePolicy.ForecastCache.newBuilder().setInterval(interval).setOrder(order))
            .build();
      }
      if (value.startsWith("teacache:")) {
        double threshold = positive(value.substring(9), "teacache threshold");
        return policy
            .setTeacache(CachePolicy.TeaCache.newBuilder().setThreshold(threshold))
            .build();
      }
      if (value.startsWith("budget:")) {
        double speedup = positive(value.substring(7), "budget");
        checkBudget(speedup);
        return policy.setBudget(CachePolicy.Budget.newBuilder().setSpeedup(speedup)).build();
      }
      if (value.startsWith("floor:")) {
        String floor = value.substring(6);
        if (!floor.startsWith("psnr=")) {
          throw new IllegalArgumentException(
              "a floor is floor:psnr=P (P in dB), got '" + text.strip() + "'");
        }
        double psnr = positive(floor.substring(5), "floor psnr");
        return policy.setFloor(CachePolicy.QualityFloor.newBuilder().setMinPsnrDb(psnr)).build();
      }
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("cannot parse a number in '" + text.strip() + "'");
    }
    throw new IllegalArgumentException("expected " + FORMS + ", got '" + text.strip() + "'");
  }

  /** A budget asks for fewer block evaluations than uncached: X must exceed 1. */
  public static void checkBudget(double speedup) {
    if (!(speedup > 1) || !Double.isFinite(speedup)) {
      throw new IllegalArgumentException(
          "a budget is budget:X with X > 1 (at most 1/X of the uncached block evaluations), got "
              + speedup);
    }
  }

  private static double positive(String number, String what) {
    double v = Double.parseDouble(number);
    if (!(v > 0) || !Double.isFinite(v)) {
      throw new IllegalArgumentException("the " + what + " must be a finite value > 0, got " + v);
    }
    return v;
  }

  /** The text form of {@code policy}; an unset policy is {@code none}. */
  public static String format(CachePolicy policy) {
    return switch (policy.getPolicyCase()) {
      case POLICY_NOT_SET, NONE -> "none";
      case AUTO ->
          policy.getAuto().getDelta() == 0 ? "auto" : "auto:" + policy.getAuto().getDelta();
      case FORA -> "fora:" + policy.getFora().getInterval();
      case TEACACHE -> "teacache:" + policy.getTeacache().getThreshold();
      case FORECAST ->
          "forecast:"
              + policy.getForecast().getInterval()
              + (policy.getForecast().getOrder() == 1 ? ":1" : "");
      case BUDGET -> "budget:" + number(policy.getBudget().getSpeedup());
      case FLOOR -> "floor:psnr=" + number(policy.getFloor().getMinPsnrDb());
    };
  }

  private static String number(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}
