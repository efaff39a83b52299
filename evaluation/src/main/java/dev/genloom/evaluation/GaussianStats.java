package dev.genloom.evaluation;

import java.util.Arrays;
import org.ejml.data.DMatrixRMaj;

/**
 * Mean and covariance of a feature set, in float64: the statistics a Fréchet distance compares
 * (pytorch-fid's {@code mu} and {@code sigma}).
 */
public final class GaussianStats {
  private final double[] mu;
  private final DMatrixRMaj sigma;
  private final int samples;

  private GaussianStats(double[] mu, DMatrixRMaj sigma, int samples) {
    this.mu = mu;
    this.sigma = sigma;
    this.samples = samples;
  }

  /** Wraps precomputed statistics (e.g. loaded from a reference .npz); copies the inputs. */
  public static GaussianStats of(double[] mu, DMatrixRMaj sigma, int samples) {
    if (sigma.numRows != mu.length || sigma.numCols != mu.length) {
      throw new IllegalArgumentException(
          "sigma is "
              + sigma.numRows
              + "x"
              + sigma.numCols
              + " but mu has "
              + mu.length
              + " entries");
    }
    for (int i = 0; i < mu.length; i++) {
      if (!Double.isFinite(mu[i])) {
        throw new IllegalArgumentException("mu[" + i + "] is " + mu[i] + ", not a finite number");
      }
    }
    double[] s = sigma.data;
    int d = mu.length;
    for (int i = 0; i < d; i++) {
      for (int j = 0; j < d; j++) {
        double v = s[i * d + j];
        if (!Double.isFinite(v)) {
          throw new IllegalArgumentException(
              "sigma[" + i + "][" + j + "] is " + v + ", not a finite number");
        }
        double t = s[j * d + i];
        if (Math.abs(v - t) > 1e-6 * Math.max(1e-12, Math.abs(v) + Math.abs(t))
            && Math.abs(v - t) > 1e-12) {
          throw new IllegalArgumentException(
              "sigma is not symmetric: sigma["
                  + i
                  + "]["
                  + j
                  + "] = "
                  + v
                  + " but sigma["
                  + j
                  + "]["
                  + i
                  + "] = "
                  + t
                  + " (not a covariance matrix)");
        }
      }
    }
    double[] eig = eigenvalues(sigma);
    double largest = 0;
    double smallest = Double.POSITIVE_INFINITY;
    for (double e : eig) {
      largest = Math.max(largest, Math.abs(e));
      smallest = Math.min(smallest, e);
    }
    // a covariance is positive semi-definite; rounding leaves eigenvalues a hair below zero
    if (smallest < -1e-6 * Math.max(largest, 1e-12)) {
      throw new IllegalArgumentException(
          String.format(
              java.util.Locale.ROOT,
              "sigma is not positive semi-definite: its smallest eigenvalue is %.3g (largest"
                  + " %.3g), so it is not a covariance matrix",
              smallest,
              largest));
    }
    return new GaussianStats(mu.clone(), sigma.copy(), samples);
  }

  private static double[] eigenvalues(DMatrixRMaj symmetric) {
    var eig =
        org.ejml.dense.row.factory.DecompositionFactory_DDRM.eig(symmetric.numRows, false, true);
    if (!eig.decompose(symmetric.copy())) {
      throw new IllegalArgumentException("sigma: the eigendecomposition did not converge");
    }
    double[] values = new double[symmetric.numRows];
    for (int k = 0; k < values.length; k++) {
      values[k] = eig.getEigenvalue(k).getReal();
    }
    return values;
  }

  /**
   * Mean and unbiased covariance (ddof = 1) of {@code features[n][d]}, two-pass in float64, as
   * {@code numpy.cov(rowvar=False)} computes them.
   *
   * @throws IllegalArgumentException with fewer than two samples or ragged rows
   */
  public static GaussianStats fromFeatures(float[][] features) {
    int n = features.length;
    if (n < 2) {
      throw new IllegalArgumentException(
          "a covariance needs at least 2 samples, got " + n + " (add more images)");
    }
    int d = features[0].length;
    double[] mu = new double[d];
    for (float[] row : features) {
      if (row.length != d) {
        throw new IllegalArgumentException(
            "feature rows differ in length: " + d + " and " + row.length);
      }
      for (int j = 0; j < d; j++) {
        if (!Float.isFinite(row[j])) {
          throw new IllegalArgumentException(
              "a feature is " + row[j] + ", not a finite number (a broken image or network?)");
        }
        mu[j] += row[j];
      }
    }
    for (int j = 0; j < d; j++) {
      mu[j] /= n;
    }
    DMatrixRMaj sigma = new DMatrixRMaj(d, d);
    double[] centered = new double[d];
    double[] s = sigma.data;
    for (float[] row : features) {
      for (int j = 0; j < d; j++) {
        centered[j] = row[j] - mu[j];
      }
      for (int i = 0; i < d; i++) {
        double ci = centered[i];
        int base = i * d;
        for (int j = i; j < d; j++) {
          s[base + j] += ci * centered[j];
        }
      }
    }
    for (int i = 0; i < d; i++) {
      for (int j = i; j < d; j++) {
        double v = s[i * d + j] / (n - 1);
        s[i * d + j] = v;
        s[j * d + i] = v;
      }
    }
    return new GaussianStats(mu, sigma, n);
  }

  public double[] mu() {
    return mu.clone();
  }

  public DMatrixRMaj sigma() {
    return sigma.copy();
  }

  public int dimension() {
    return mu.length;
  }

  /** Number of samples behind the statistics (0 when unknown, e.g. loaded from a file). */
  public int samples() {
    return samples;
  }

  /** Whether the covariance is necessarily rank-deficient (fewer samples than dimensions). */
  public boolean rankDeficient() {
    return samples > 0 && samples <= mu.length;
  }

  @Override
  public String toString() {
    return "GaussianStats{d="
        + mu.length
        + ", n="
        + samples
        + ", mu[0..]="
        + Arrays.toString(Arrays.copyOf(mu, Math.min(3, mu.length)))
        + "}";
  }
}
