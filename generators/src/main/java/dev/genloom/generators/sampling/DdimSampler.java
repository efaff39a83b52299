package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * DDIM (Song et al.; diffusers' {@code DDIMScheduler} with "leading" spacing and steps_offset from
 * the schedule, epsilon prediction, no clipping). With eta > 0 each step adds {@code sigma_t z}.
 */
public final class DdimSampler implements Sampler {
  private final DiffusionSchedule schedule;
  private final int[] timesteps;
  private final int stepRatio;
  private final double eta;

  public DdimSampler(DiffusionSchedule schedule, int steps, double eta) {
    if (steps < 1 || steps > schedule.numTrainTimesteps()) {
      throw new IllegalArgumentException(
          "steps: must be in 1.." + schedule.numTrainTimesteps() + ", got " + steps);
    }
    if (!(eta >= 0) || !Double.isFinite(eta)) {
      throw new IllegalArgumentException("eta: must be a finite value >= 0, got " + eta);
    }
    this.schedule = schedule;
    this.eta = eta;
    this.stepRatio = schedule.numTrainTimesteps() / steps;
    this.timesteps = new int[steps];
    for (int i = 0; i < steps; i++) {
      timesteps[i] = (steps - 1 - i) * stepRatio + schedule.stepsOffset();
    }
    if (timesteps[0] >= schedule.numTrainTimesteps()) {
      throw new IllegalArgumentException(
          "steps: "
              + steps
              + " steps with steps_offset "
              + schedule.stepsOffset()
              + " would start past the last training timestep; use at most "
              + (schedule.numTrainTimesteps() - 1));
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
    double a = schedule.alphaCumprod(timesteps[i]);
    return clean.mul(Math.sqrt(a)).add(noise.mul(Math.sqrt(1 - a)));
  }

  @Override
  public NDArray step(int i, NDArray eps, NDArray sample, Supplier<NDArray> noise) {
    int t = timesteps[i];
    int prev = t - stepRatio;
    double alphaT = schedule.alphaCumprod(t);
    double alphaPrev = prev >= 0 ? schedule.alphaCumprod(prev) : schedule.finalAlphaCumprod();
    double variance = (1 - alphaPrev) / (1 - alphaT) * (1 - alphaT / alphaPrev);
    double std = eta * Math.sqrt(variance);
    NDArray x0 = sample.sub(eps.mul(Math.sqrt(1 - alphaT))).div(Math.sqrt(alphaT));
    NDArray direction = eps.mul(Math.sqrt(Math.max(1 - alphaPrev - std * std, 0)));
    NDArray prevSample = x0.mul(Math.sqrt(alphaPrev)).add(direction);
    if (eta > 0) {
      prevSample = prevSample.add(noise.get().mul(std));
    }
    return prevSample;
  }
}
