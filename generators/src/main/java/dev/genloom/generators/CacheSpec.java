package dev.genloom.generators;

import java.util.Locale;

/**
 * A requested caching policy: {@code none}, {@code auto} (the package's calibrated block-caching
 * schedule, optionally at a given delta), {@code fora:N} or {@code teacache:T}.
 *
 * @param kind the policy family
 * @param value delta for auto (0 = package default), interval for fora, threshold for teacache
 */
public record CacheSpec(Kind kind, double value) {
  public enum Kind {
    NONE,
    AUTO,
    FORA,
    TEACACHE
  }

  public static final CacheSpec NONE = new CacheSpec(Kind.NONE, 0);

  /** Parses the command-line form; errors name the field {@code cache}. */
  public static CacheSpec parse(String text) {
    String value = text.strip().toLowerCase(Locale.ROOT);
    try {
      if (value.equals("none")) {
        return NONE;
      }
      if (value.equals("auto")) {
        return new CacheSpec(Kind.AUTO, 0);
      }
      if (value.startsWith("auto:")) {
        return new CacheSpec(Kind.AUTO, positive(Double.parseDouble(value.substring(5))));
      }
      if (value.startsWith("fora:")) {
        int interval = Integer.parseInt(value.substring(5));
        if (interval < 1) {
          throw new IllegalArgumentException("cache: fora interval must be >= 1");
        }
        return new CacheSpec(Kind.FORA, interval);
      }
      if (value.startsWith("teacache:")) {
        return new CacheSpec(Kind.TEACACHE, positive(Double.parseDouble(value.substring(9))));
      }
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("cache: cannot parse a number in '" + text + "'");
    }
    throw new IllegalArgumentException(
        "cache: expected none, auto, auto:DELTA, fora:N or teacache:T, got '" + text + "'");
  }

  private static double positive(double v) {
    if (!(v > 0) || !Double.isFinite(v)) {
      throw new IllegalArgumentException("cache: the threshold must be a finite value > 0");
    }
    return v;
  }

  @Override
  public String toString() {
    return switch (kind) {
      case NONE -> "none";
      case AUTO -> value == 0 ? "auto" : "auto:" + value;
      case FORA -> "fora:" + (int) value;
      case TEACACHE -> "teacache:" + value;
    };
  }
}
