package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * DDIM (Song et al. 2021) with the semantics of diffusers 0.30.3's {@code DDIMScheduler}: its own
 * "leading", "trailing" and "linspace" spacings, steps_offset, set_alpha_to_one, epsilon /
 * v_prediction / sample outputs, clip_sample and eta. The previous timestep is always {@code t -
 * num_train_timesteps // steps}, as diffusers' {@code step} takes it, whatever the spacing. Scalars
 * are float32 as diffusers' 0-dim tensors are.
 */
public final class DdimSampler implements Sampler {
  private final DiffusionSchedule schedule;
  private final int[] timesteps;
  private final int stepRatio;
  private final float finalAlphaCumprod;
  private final float eta;
  private final PredictionType prediction;
  private final boolean clipSample;
  private final float clipRange;

  DdimSampler(SchedulerConfig.Params p, int steps, double eta) {
    this.schedule = DiffusionSchedule.of(p, false);
    int n = p.integer("num_train_timesteps");
    Samplers.checkSteps(steps, n);
    this.eta = (float) eta;
    this.prediction = PredictionType.of(p, true, false);
    if (p.bool("thresholding")) {
      throw p.refuse("thresholding", "only false; dynamic thresholding is for pixel-space models");
    }
    this.clipSample = p.bool("clip_sample");
    this.clipRange = (float) p.number("clip_sample_range");
    this.finalAlphaCumprod = p.bool("set_alpha_to_one") ? 1f : schedule.alphaCumprod(0);
    this.stepRatio = n / steps;
    int offset = p.integer("steps_offset");
    this.timesteps = new int[steps];
    switch (p.string("timestep_spacing")) {
      case "linspace" -> {
        // np.linspace(0, n - 1, steps).round()[::-1]
        double[] t = Numpy.linspace(0, n - 1, steps);
        for (int i = 0; i < steps; i++) {
          timesteps[i] = (int) Numpy.round(t[steps - 1 - i]);
        }
      }
      case "leading" -> {
        // (np.arange(0, steps) * (n // steps)).round()[::-1] + steps_offset
        for (int i = 0; i < steps; i++) {
          timesteps[i] = (steps - 1 - i) * stepRatio + offset;
        }
      }
      case "trailing" -> {
        // np.round(np.arange(n, 0, -n / steps)) - 1
        double[] t = Samplers.trailing(n, n, steps);
        for (int i = 0; i < steps; i++) {
          timesteps[i] = (int) Numpy.round(t[i]) - 1;
        }
      }
      default -> throw p.refuse("timestep_spacing", "leading, trailing, linspace");
    }
    for (int t : timesteps) {
      if (t < 0 || t >= n) {
        throw new IllegalArgumentException(
            "steps: "
                + steps
                + " steps with steps_offset "
                + offset
                + " give timestep "
                + t
                + ", outside the "
                + n
                + " training timesteps; use fewer steps or a smaller steps_offset");
      }
    }
  }

  @Override
  public int steps() {
    return timesteps.length;
  }

  /** The discrete training timestep of step {@code i}. */
  public int timestep(int i) {
    return timesteps[i];
  }

  /** {@code alphas_cumprod} used past the last step: 1 with set_alpha_to_one, else the first. */
  public float finalAlphaCumprod() {
    return finalAlphaCumprod;
  }

  @Override
  public float modelTimestep(int i) {
    return timesteps[i];
  }

  @Override
  public boolean drawsNoise(int i) {
    return eta > 0;
  }

  @Override
  public NDArray addNoise(NDArray clean, NDArray noise, int i) {
    float a = schedule.alphaCumprod(timesteps[i]);
    float sqrtA = (float) Math.sqrt(a);
    float sqrtOneMinusA = (float) Math.sqrt(1f - a);
    return clean.mul(sqrtA).add(noise.mul(sqrtOneMinusA));
  }

  @Override
  public NDArray step(int i, NDArray modelOutput, NDArray sample, Supplier<NDArray> noise) {
    int t = timesteps[i];
    int prev = t - stepRatio;
    float alphaT = schedule.alphaCumprod(t);
    float alphaPrev = prev >= 0 ? schedule.alphaCumprod(prev) : finalAlphaCumprod;
    float betaT = 1f - alphaT;
    float sqrtAlphaT = (float) Math.sqrt(alphaT);
    float sqrtBetaT = (float) Math.sqrt(betaT);
    NDArray x0;
    NDArray eps;
    switch (prediction) {
      case EPSILON -> {
        x0 = sample.sub(modelOutput.mul(sqrtBetaT)).div(sqrtAlphaT);
        eps = modelOutput;
      }
      case SAMPLE -> {
        x0 = modelOutput;
        eps = sample.sub(x0.mul(sqrtAlphaT)).div(sqrtBetaT);
      }
      default -> {
        x0 = sample.mul(sqrtAlphaT).sub(modelOutput.mul(sqrtBetaT));
        eps = modelOutput.mul(sqrtAlphaT).add(sample.mul(sqrtBetaT));
      }
    }
    if (clipSample) {
      x0 = x0.clip(-clipRange, clipRange);
    }
    float betaPrev = 1f - alphaPrev;
    float variance = (betaPrev / betaT) * (1f - alphaT / alphaPrev);
    float std = eta * (float) Math.sqrt(variance);
    float direction = (float) Math.sqrt(1f - alphaPrev - std * std);
    NDArray prevSample = x0.mul((float) Math.sqrt(alphaPrev)).add(eps.mul(direction));
    if (eta > 0) {
      prevSample = prevSample.add(noise.get().mul(std));
    }
    return prevSample;
  }
}
