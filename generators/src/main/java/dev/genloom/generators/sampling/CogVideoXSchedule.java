package dev.genloom.generators.sampling;

/**
 * The training schedule and inference timesteps of diffusers 0.30.3's CogVideoX schedulers ({@code
 * CogVideoXDDIMScheduler}, {@code CogVideoXDPMScheduler}), in float64 as they compute them:
 * scaled-linear betas from a float64 {@code torch.linspace}, their cumulative product shifted by
 * {@code snr_shift_scale} ({@code a / (s + (1 - s) a)}), optionally rescaled to zero terminal SNR
 * on the cumulative product itself, and DDIM's three timestep spacings.
 */
final class CogVideoXSchedule {
  final int numTrainTimesteps;
  final double[] alphasCumprod;
  final double finalAlphaCumprod;
  final int[] timesteps;
  final String prediction;

  CogVideoXSchedule(SchedulerConfig.Params p, int steps) {
    numTrainTimesteps = p.integer("num_train_timesteps");
    Samplers.checkSteps(steps, numTrainTimesteps);
    if (p.value("trained_betas") != SchedulerConfig.NONE) {
      throw new IllegalArgumentException(
          p.source() + ": trained_betas is not implemented for the CogVideoX schedulers");
    }
    String schedule = p.string("beta_schedule");
    if (!schedule.equals("scaled_linear")) {
      throw new IllegalArgumentException(
          p.source()
              + ": beta_schedule '"
              + schedule
              + "' is not implemented for the CogVideoX schedulers (only scaled_linear)");
    }
    prediction = p.string("prediction_type");
    if (!prediction.equals("epsilon")
        && !prediction.equals("v_prediction")
        && !prediction.equals("sample")) {
      throw new IllegalArgumentException(
          p.source() + ": prediction_type '" + prediction + "' is not implemented");
    }
    double shift = p.number("snr_shift_scale");
    if (!(shift > 0)) {
      throw new IllegalArgumentException(
          p.source() + ": snr_shift_scale must be positive, got " + shift);
    }
    int n = numTrainTimesteps;
    double[] sqrtBetas =
        torchLinspace(Math.sqrt(p.number("beta_start")), Math.sqrt(p.number("beta_end")), n);
    alphasCumprod = new double[n];
    double product = 1;
    for (int i = 0; i < n; i++) {
      product *= 1 - sqrtBetas[i] * sqrtBetas[i];
      alphasCumprod[i] = product;
    }
    for (int i = 0; i < n; i++) {
      double a = alphasCumprod[i];
      alphasCumprod[i] = a / (shift + (1 - shift) * a);
    }
    if (p.bool("rescale_betas_zero_snr")) {
      rescaleZeroTerminalSnr(alphasCumprod);
    }
    finalAlphaCumprod = p.bool("set_alpha_to_one") ? 1.0 : alphasCumprod[0];
    timesteps = spacing(p, steps);
  }

  /** The cumulative product at {@code t}, or the final one for {@code t < 0}. */
  double alpha(int t) {
    return t >= 0 ? alphasCumprod[t] : finalAlphaCumprod;
  }

  /** {@code t - num_train_timesteps // steps}, as both schedulers' steps compute it. */
  int previous(int t) {
    return t - numTrainTimesteps / timesteps.length;
  }

  /**
   * {@code torch.linspace(start, end, n, dtype=float64)}: the first half counts up from start, the
   * second half down from end.
   */
  static double[] torchLinspace(double start, double end, int n) {
    double[] out = new double[n];
    if (n == 1) {
      out[0] = start;
      return out;
    }
    double step = (end - start) / (n - 1);
    int halfway = n / 2;
    for (int i = 0; i < n; i++) {
      out[i] = i < halfway ? start + step * i : end - step * (n - i - 1);
    }
    return out;
  }

  /** Zero terminal SNR (Lin et al.) applied to the cumulative product, as these schedulers do. */
  private static void rescaleZeroTerminalSnr(double[] alphasCumprod) {
    int n = alphasCumprod.length;
    double[] root = new double[n];
    for (int i = 0; i < n; i++) {
      root[i] = Math.sqrt(alphasCumprod[i]);
    }
    double first = root[0];
    double last = root[n - 1];
    double scale = first / (first - last);
    for (int i = 0; i < n; i++) {
      double r = (root[i] - last) * scale;
      alphasCumprod[i] = r * r;
    }
  }

  private static int[] spacing(SchedulerConfig.Params p, int steps) {
    int n = p.integer("num_train_timesteps");
    String spacing = p.string("timestep_spacing");
    int[] out = new int[steps];
    switch (spacing) {
      case "linspace" -> {
        double[] t = Numpy.linspace(0, n - 1, steps);
        for (int i = 0; i < steps; i++) {
          out[i] = (int) Numpy.round(t[steps - 1 - i]);
        }
      }
      case "leading" -> {
        int ratio = n / steps;
        int offset = p.integer("steps_offset");
        for (int i = 0; i < steps; i++) {
          out[i] = (steps - 1 - i) * ratio + offset;
        }
      }
      case "trailing" -> {
        double[] t = Numpy.arange(n, 0, -((double) n / steps));
        if (t.length != steps) {
          throw new IllegalArgumentException(
              p.source()
                  + ": trailing spacing gives "
                  + t.length
                  + " timesteps for "
                  + steps
                  + " steps");
        }
        for (int i = 0; i < steps; i++) {
          out[i] = (int) Numpy.round(t[i]) - 1;
        }
      }
      default ->
          throw new IllegalArgumentException(
              p.source() + ": timestep_spacing '" + spacing + "' is not implemented");
    }
    for (int t : out) {
      if (t < 0 || t >= n) {
        throw new IllegalArgumentException(
            p.source() + ": timestep " + t + " is outside 0.." + (n - 1) + " for " + steps);
      }
    }
    return out;
  }
}
