package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * Euler (Karras et al. 2022, Algorithm 2 with s_churn 0) with the semantics of diffusers 0.30.3's
 * {@code EulerDiscreteScheduler}: sigmas interpolated linearly at float timesteps from its own
 * "linspace" (default), "leading" and "trailing" spacings, or Karras sigmas; final_sigmas_type
 * "zero" or "sigma_min"; timestep_type "discrete" or "continuous" (with v_prediction the model gets
 * {@code 0.25 log sigma}); epsilon / v_prediction / sample outputs; the model input is scaled by
 * {@code 1 / sqrt(sigma^2 + 1)} and the initial noise by {@code init_noise_sigma}.
 *
 * <p>diffusers draws a noise tensor in every step and, with s_churn 0, multiplies it by nothing;
 * this sampler draws none.
 */
public final class EulerDiscrete extends EulerSchedule {
  private EulerDiscrete(
      float[] timesteps, float[] sigmas, String spacing, PredictionType prediction) {
    super(timesteps, sigmas, spacing, prediction);
  }

  static EulerDiscrete of(SchedulerConfig.Params p, int steps) {
    DiffusionSchedule schedule = DiffusionSchedule.of(p, true);
    int n = p.integer("num_train_timesteps");
    Samplers.checkSteps(steps, n);
    PredictionType prediction = PredictionType.of(p, true, true);
    if (!p.string("interpolation_type").equals("linear")) {
      throw p.refuse("interpolation_type", "linear");
    }
    String timestepType = p.string("timestep_type");
    if (!timestepType.equals("discrete") && !timestepType.equals("continuous")) {
      throw p.refuse("timestep_type", "discrete, continuous");
    }
    String finalType = p.string("final_sigmas_type");
    if (!finalType.equals("zero") && !finalType.equals("sigma_min")) {
      throw p.refuse("final_sigmas_type", "zero, sigma_min");
    }
    String spacing = p.string("timestep_spacing");
    float[] ts = spacedTimesteps(p, spacing, n, steps);
    float[] train = schedule.trainSigmas();
    double[] s = new double[steps];
    for (int i = 0; i < steps; i++) {
      s[i] = Numpy.interp(ts[i], train);
    }
    if (p.bool("use_karras_sigmas")) {
      double sigmaMin = p.nullableNumber("sigma_min");
      double sigmaMax = p.nullableNumber("sigma_max");
      double[] k =
          Numpy.karras(
              Double.isNaN(sigmaMin) ? s[steps - 1] : sigmaMin,
              Double.isNaN(sigmaMax) ? s[0] : sigmaMax,
              steps);
      float[] logSigmas = Numpy.log(train);
      for (int i = 0; i < steps; i++) {
        ts[i] = (float) Numpy.sigmaToT(k[i], logSigmas);
      }
      s = k;
    }
    float[] sigmas = new float[steps + 1];
    for (int i = 0; i < steps; i++) {
      sigmas[i] = (float) s[i];
    }
    sigmas[steps] = finalType.equals("zero") ? 0f : train[0];
    if (timestepType.equals("continuous") && prediction == PredictionType.V) {
      for (int i = 0; i < steps; i++) {
        ts[i] = 0.25f * (float) Math.log(sigmas[i]);
      }
    }
    return new EulerDiscrete(ts, sigmas, spacing, prediction);
  }

  /**
   * The float32 timesteps of the Euler schedulers: "linspace" {@code np.linspace(0, n - 1, steps,
   * dtype=float32)[::-1]}, "leading" {@code arange(steps) * (n // steps)} reversed plus
   * steps_offset, "trailing" {@code np.arange(n, 0, -n / steps).round() - 1}.
   */
  static float[] spacedTimesteps(SchedulerConfig.Params p, String spacing, int n, int steps) {
    float[] ts = new float[steps];
    switch (spacing) {
      case "linspace" -> {
        double[] t = Numpy.linspace(0, n - 1, steps);
        for (int i = 0; i < steps; i++) {
          ts[i] = (float) t[steps - 1 - i];
        }
      }
      case "leading" -> {
        int ratio = n / steps;
        float offset = p.integer("steps_offset");
        for (int i = 0; i < steps; i++) {
          ts[i] = (float) ((steps - 1 - i) * ratio) + offset;
        }
      }
      case "trailing" -> {
        double[] t = Samplers.trailing(n, n, steps);
        for (int i = 0; i < steps; i++) {
          ts[i] = (float) Numpy.round(t[i]) - 1f;
        }
      }
      default -> throw p.refuse("timestep_spacing", "linspace, leading, trailing");
    }
    return ts;
  }

  /** The largest sigma, or {@code sqrt(max^2 + 1)} with "leading" spacing, in float32. */
  static float initNoiseSigma(float[] sigmas, String spacing) {
    float max = Float.NEGATIVE_INFINITY;
    for (float s : sigmas) {
      max = Math.max(max, s);
    }
    if (spacing.equals("linspace") || spacing.equals("trailing")) {
      return max;
    }
    return (float) Math.sqrt(max * max + 1f);
  }

  @Override
  public NDArray step(int i, NDArray modelOutput, NDArray sample, Supplier<NDArray> noise) {
    float sigma = sigmas[i];
    NDArray x0 = x0(modelOutput, sample, i);
    NDArray derivative = sample.sub(x0).div(sigma);
    float dt = sigmas[i + 1] - sigma;
    return sample.add(derivative.mul(dt));
  }
}
