package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * Flow-matching Euler with the semantics of diffusers 0.30.3's {@code
 * FlowMatchEulerDiscreteScheduler} (Stable Diffusion 3): {@code x_sigma = (1 - sigma) x0 + sigma
 * noise}, velocity outputs, {@code x <- x + (sigma_next - sigma) v}. As in diffusers, the training
 * sigmas are shifted once in {@code __init__} ({@code shift s / (1 + (shift - 1) s)}), the
 * inference sigmas run linearly between the shifted extremes and are shifted again; with
 * use_dynamic_shifting they are instead {@code e^mu / (e^mu + (1 / s - 1))} for the caller's mu. A
 * pipeline may pass its own inference sigmas instead ({@code set_timesteps(sigmas=)}): FluxPipeline
 * passes {@code linspace(1, 1 / N, N)}, shifted the same way. The model timestep is {@code sigma *
 * num_train_timesteps}.
 */
public final class FlowMatchEulerDiscrete implements Sampler {
  private final float[] timesteps;
  private final float[] sigmas;

  FlowMatchEulerDiscrete(SchedulerConfig.Params p, int steps, double mu) {
    this(p, steps, mu, false);
  }

  /**
   * With {@code pipelineSigmas}, the inference sigmas before shifting are FluxPipeline's {@code
   * np.linspace(1.0, 1 / steps, steps)} rather than the scheduler's own spacing.
   */
  FlowMatchEulerDiscrete(SchedulerConfig.Params p, int steps, double mu, boolean pipelineSigmas) {
    int n = p.integer("num_train_timesteps");
    if (n < 1) {
      throw new IllegalArgumentException(
          p.source() + ": num_train_timesteps must be positive, got " + n);
    }
    Samplers.checkSteps(steps, n);
    double shift = p.number("shift");
    boolean dynamic = p.bool("use_dynamic_shifting");
    if (dynamic && Double.isNaN(mu)) {
      throw new IllegalArgumentException(
          p.source()
              + ": use_dynamic_shifting true needs mu (from the image sequence length); pass it to"
              + " Samplers.create");
    }
    if (!(shift > 0)) {
      throw new IllegalArgumentException(p.source() + ": shift must be positive, got " + shift);
    }
    // __init__: timesteps linspace(1, n, n, dtype=float32)[::-1], sigmas = timesteps / n (float32)
    float first = (float) n / n;
    float lastT = (float) Numpy.linspace(1, n, n)[0];
    float last = lastT / n;
    if (!dynamic) {
      float fs = (float) shift;
      float fsm1 = (float) (shift - 1);
      first = fs * first / (1f + fsm1 * first);
      last = fs * last / (1f + fsm1 * last);
    }
    double sigmaMax = first;
    double sigmaMin = last;
    double[] t =
        pipelineSigmas
            ? Numpy.linspace(1.0, 1.0 / steps, steps)
            : Numpy.linspace(sigmaMax * n, sigmaMin * n, steps);
    this.sigmas = new float[steps + 1];
    this.timesteps = new float[steps];
    for (int i = 0; i < steps; i++) {
      double s = pipelineSigmas ? t[i] : t[i] / n;
      if (dynamic) {
        s = Math.exp(mu) / (Math.exp(mu) + Math.pow(1 / s - 1, 1.0));
      } else {
        s = shift * s / (1 + (shift - 1) * s);
      }
      sigmas[i] = (float) s;
      timesteps[i] = sigmas[i] * n;
    }
  }

  @Override
  public int steps() {
    return timesteps.length;
  }

  public float sigma(int i) {
    return sigmas[i];
  }

  @Override
  public float modelTimestep(int i) {
    return timesteps[i];
  }

  /** diffusers' {@code scale_noise}: {@code sigma noise + (1 - sigma) clean}. */
  @Override
  public NDArray addNoise(NDArray clean, NDArray noise, int i) {
    float sigma = sigmas[i];
    return noise.mul(sigma).add(clean.mul(1f - sigma));
  }

  @Override
  public NDArray step(int i, NDArray velocity, NDArray sample, Supplier<NDArray> noise) {
    return sample.add(velocity.mul(sigmas[i + 1] - sigmas[i]));
  }
}
