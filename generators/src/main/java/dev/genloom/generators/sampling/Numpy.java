package dev.genloom.generators.sampling;

/**
 * The float64 numpy routines diffusers' {@code set_timesteps} uses, with numpy's own arithmetic so
 * that timesteps and sigmas come out as diffusers computes them.
 */
final class Numpy {
  private Numpy() {}

  /**
   * {@code np.linspace(start, stop, num)}: {@code i * step + start} with step = (stop - start) /
   * (num - 1), the last value set to stop; a single value is start.
   */
  static double[] linspace(double start, double stop, int num) {
    double[] out = new double[num];
    if (num == 1) {
      out[0] = start;
      return out;
    }
    double step = (stop - start) / (num - 1);
    for (int i = 0; i < num; i++) {
      out[i] = i * step + start;
    }
    out[num - 1] = stop;
    return out;
  }

  /**
   * {@code np.arange(start, stop, step)} for floats: length ceil((stop - start) / step), values
   * {@code start + i * delta} where delta is {@code (start + step) - start} as numpy fills it.
   */
  static double[] arange(double start, double stop, double step) {
    double len = Math.ceil((stop - start) / step);
    int n = len > 0 ? (int) len : 0;
    double[] out = new double[n];
    if (n == 0) {
      return out;
    }
    out[0] = start;
    if (n > 1) {
      double delta = (start + step) - start;
      out[1] = start + step;
      for (int i = 2; i < n; i++) {
        out[i] = start + i * delta;
      }
    }
    return out;
  }

  /** {@code np.round}: half to even. */
  static double round(double x) {
    return Math.rint(x);
  }

  /**
   * {@code np.interp(x, np.arange(len(fp)), fp)}: clamps outside [0, len - 1], returns fp[j] on a
   * grid point and {@code slope * (x - j) + fp[j]} between.
   */
  static double interp(double x, float[] fp) {
    int last = fp.length - 1;
    if (Double.isNaN(x)) {
      return x;
    }
    if (x <= 0) {
      return fp[0];
    }
    if (x >= last) {
      return fp[last];
    }
    int j = (int) Math.floor(x);
    if (j == x) {
      return fp[j];
    }
    double slope = ((double) fp[j + 1] - fp[j]) / ((j + 1.0) - j);
    return slope * (x - j) + fp[j];
  }

  /**
   * diffusers' {@code _sigma_to_t}: the fractional timestep whose log-sigma brackets {@code
   * log(sigma)}, by linear interpolation of log-sigmas ({@code logSigmas} float32, ascending).
   */
  static double sigmaToT(double sigma, float[] logSigmas) {
    double logSigma = Math.log(Math.max(sigma, 1e-10));
    int n = logSigmas.length;
    // argmax of cumsum(dists >= 0): the last index with log_sigmas[j] <= log_sigma, else 0
    int low = 0;
    for (int j = 0; j < n; j++) {
      if (logSigma - logSigmas[j] >= 0) {
        low = j;
      }
    }
    low = Math.min(low, n - 2);
    int high = low + 1;
    float lo = logSigmas[low];
    float hi = logSigmas[high];
    double w = (lo - logSigma) / (double) (lo - hi); // lo - hi is a float32 difference
    w = Math.min(Math.max(w, 0), 1);
    return (1 - w) * low + w * high;
  }

  /** Karras et al. (2022) sigmas, rho 7, as diffusers' {@code _convert_to_karras}. */
  static double[] karras(double sigmaMin, double sigmaMax, int steps) {
    double rho = 7.0;
    double[] ramp = linspace(0, 1, steps);
    double minInvRho = Math.pow(sigmaMin, 1 / rho);
    double maxInvRho = Math.pow(sigmaMax, 1 / rho);
    double[] out = new double[steps];
    for (int i = 0; i < steps; i++) {
      out[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), rho);
    }
    return out;
  }

  /** {@code np.log} of float32 values, elementwise. */
  static float[] log(float[] values) {
    float[] out = new float[values.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) Math.log(values[i]);
    }
    return out;
  }
}
