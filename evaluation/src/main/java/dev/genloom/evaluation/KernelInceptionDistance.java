package dev.genloom.evaluation;

import java.util.SplittableRandom;

/**
 * Kernel Inception Distance (Bińkowski et al. 2018) on any features: the unbiased MMD² with the
 * cubic polynomial kernel {@code k(x, y) = (x·y / d + 1)^3}, over {@code subsets} random subsets of
 * {@code m = min(n1, n2, subsetSize)} rows drawn without replacement from each set, reported as
 * mean and standard deviation.
 *
 * @param mean mean MMD² over subsets (small negatives are normal)
 * @param std standard deviation over subsets
 * @param subsets subsets drawn
 * @param subsetSize rows per subset
 */
public record KernelInceptionDistance(double mean, double std, int subsets, int subsetSize) {

  public static KernelInceptionDistance compute(
      float[][] a, float[][] b, int subsets, int subsetSize, long seed) {
    if (a.length < 2 || b.length < 2) {
      throw new IllegalArgumentException(
          "KID needs at least 2 samples in each set, got " + a.length + " and " + b.length);
    }
    if (a[0].length != b[0].length) {
      throw new IllegalArgumentException(
          "feature dimensions differ: " + a[0].length + " vs " + b[0].length);
    }
    for (float[][] set : new float[][][] {a, b}) {
      for (float[] row : set) {
        for (float v : row) {
          if (!Float.isFinite(v)) {
            throw new IllegalArgumentException(
                "a feature is " + v + ", not a finite number (a broken image or network?)");
          }
        }
      }
    }
    int m = Math.min(Math.min(a.length, b.length), subsetSize);
    SplittableRandom random = new SplittableRandom(seed);
    double[] values = new double[subsets];
    for (int s = 0; s < subsets; s++) {
      values[s] = mmd2(sample(a, m, random), sample(b, m, random));
    }
    double mean = 0;
    for (double v : values) {
      mean += v;
    }
    mean /= subsets;
    double var = 0;
    for (double v : values) {
      var += (v - mean) * (v - mean);
    }
    return new KernelInceptionDistance(mean, Math.sqrt(var / subsets), subsets, m);
  }

  /** Unbiased MMD² between two equal-size sets. */
  static double mmd2(float[][] x, float[][] y) {
    int m = x.length;
    int d = x[0].length;
    double kxx = 0;
    double kyy = 0;
    double kxy = 0;
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < m; j++) {
        if (i != j) {
          kxx += kernel(x[i], x[j], d);
          kyy += kernel(y[i], y[j], d);
        }
        kxy += kernel(x[i], y[j], d);
      }
    }
    return (kxx + kyy) / ((double) m * (m - 1)) - 2 * kxy / ((double) m * m);
  }

  private static double kernel(float[] u, float[] v, int d) {
    double dot = 0;
    for (int k = 0; k < d; k++) {
      dot += (double) u[k] * v[k];
    }
    double base = dot / d + 1;
    return base * base * base;
  }

  /** {@code m} distinct rows, by a partial Fisher-Yates shuffle. */
  private static float[][] sample(float[][] rows, int m, SplittableRandom random) {
    int[] index = new int[rows.length];
    for (int i = 0; i < index.length; i++) {
      index[i] = i;
    }
    float[][] out = new float[m][];
    for (int i = 0; i < m; i++) {
      int j = i + random.nextInt(rows.length - i);
      int t = index[i];
      index[i] = index[j];
      index[j] = t;
      out[i] = rows[index[i]];
    }
    return out;
  }
}
