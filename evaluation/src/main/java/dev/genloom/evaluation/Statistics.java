package dev.genloom.evaluation;

import java.util.Arrays;

/** Summary statistics shared by the metrics and the benchmarks. */
public final class Statistics {
  private Statistics() {}

  /** The median (the mean of the middle two for an even count); NaN when there are none. */
  public static double median(double[] values) {
    if (values.length == 0) {
      return Double.NaN;
    }
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0;
  }

  public static double median(long[] values) {
    return median(Arrays.stream(values).asDoubleStream().toArray());
  }
}
