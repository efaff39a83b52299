package dev.genloom.generators.sampling;

import dev.genloom.proto.v1.NoiseSchedule;

/**
 * The discrete training schedule of an epsilon-prediction model: {@code alphas_cumprod} as
 * diffusers computes it (betas in float32, cumulative product in float32).
 */
public final class DiffusionSchedule {
  private final double[] alphasCumprod;
  private final NoiseSchedule config;

  private DiffusionSchedule(double[] alphasCumprod, NoiseSchedule config) {
    this.alphasCumprod = alphasCumprod;
    this.config = config;
  }

  /** Builds the schedule a manifest records ("scaled_linear" as in SD, or "linear"). */
  public static DiffusionSchedule of(NoiseSchedule config) {
    int n = config.getNumTrainTimesteps();
    if (n < 2) {
      throw new IllegalArgumentException("schedule: num_train_timesteps must be at least 2");
    }
    float[] betas = new float[n];
    switch (config.getType()) {
      case "scaled_linear" -> {
        // diffusers: torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=float32) ** 2
        float start = (float) Math.sqrt(config.getBetaStart());
        float end = (float) Math.sqrt(config.getBetaEnd());
        for (int i = 0; i < n; i++) {
          float b = linspace(start, end, n, i);
          betas[i] = b * b;
        }
      }
      case "linear" -> {
        for (int i = 0; i < n; i++) {
          betas[i] = linspace((float) config.getBetaStart(), (float) config.getBetaEnd(), n, i);
        }
      }
      default ->
          throw new IllegalArgumentException(
              "schedule: unsupported type '" + config.getType() + "'");
    }
    double[] alphasCumprod = new double[n];
    float running = 1f;
    for (int i = 0; i < n; i++) {
      running *= 1f - betas[i];
      alphasCumprod[i] = running;
    }
    return new DiffusionSchedule(alphasCumprod, config);
  }

  /** torch.linspace's float32 values: start + i * step, mirrored from the end past the midpoint. */
  private static float linspace(float start, float end, int n, int i) {
    float step = (end - start) / (n - 1);
    return i < n / 2 ? start + step * i : end - step * (n - 1 - i);
  }

  public int numTrainTimesteps() {
    return alphasCumprod.length;
  }

  public double alphaCumprod(int t) {
    return alphasCumprod[t];
  }

  /** {@code alphas_cumprod} used past the last step: 1 with set_alpha_to_one, else the first. */
  public double finalAlphaCumprod() {
    return config.getSetAlphaToOne() ? 1.0 : alphasCumprod[0];
  }

  public int stepsOffset() {
    return config.getStepsOffset();
  }
}
