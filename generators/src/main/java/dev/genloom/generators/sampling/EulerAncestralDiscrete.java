package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * Euler ancestral with the semantics of diffusers 0.30.3's {@code EulerAncestralDiscreteScheduler}:
 * the Euler schedulers' timesteps and interpolated sigmas (final sigma 0), epsilon or v_prediction
 * outputs, and per step {@code sigma_up = sqrt(sigma_to^2 (sigma_from^2 - sigma_to^2) /
 * sigma_from^2)}, {@code sigma_down = sqrt(sigma_to^2 - sigma_up^2)}: an Euler step to sigma_down
 * plus {@code sigma_up} times fresh noise. Every step draws one noise tensor, the last one too
 * (where sigma_up is 0), as diffusers' {@code randn_tensor} call does, so recorded draws line up.
 */
public final class EulerAncestralDiscrete extends EulerSchedule {
  private EulerAncestralDiscrete(
      float[] timesteps, float[] sigmas, String spacing, PredictionType prediction) {
    super(timesteps, sigmas, spacing, prediction);
  }

  static EulerAncestralDiscrete of(SchedulerConfig.Params p, int steps) {
    DiffusionSchedule schedule = DiffusionSchedule.of(p, true);
    int n = p.integer("num_train_timesteps");
    Samplers.checkSteps(steps, n);
    // diffusers raises NotImplementedError for "sample"
    PredictionType prediction = PredictionType.of(p, false, false);
    String spacing = p.string("timestep_spacing");
    float[] timesteps = EulerDiscrete.spacedTimesteps(p, spacing, n, steps);
    float[] train = schedule.trainSigmas();
    float[] sigmas = new float[steps + 1];
    for (int i = 0; i < steps; i++) {
      sigmas[i] = (float) Numpy.interp(timesteps[i], train);
    }
    return new EulerAncestralDiscrete(timesteps, sigmas, spacing, prediction);
  }

  @Override
  public boolean drawsNoise(int i) {
    return true;
  }

  @Override
  public NDArray step(int i, NDArray modelOutput, NDArray sample, Supplier<NDArray> noise) {
    float sigma = sigmas[i];
    NDArray x0 = x0(modelOutput, sample, i);
    float from2 = sigma * sigma;
    float to = sigmas[i + 1];
    float to2 = to * to;
    float up = (float) Math.sqrt(to2 * (from2 - to2) / from2);
    float down = (float) Math.sqrt(to2 - up * up);
    NDArray derivative = sample.sub(x0).div(sigma);
    NDArray prev = sample.add(derivative.mul(down - sigma));
    return prev.add(noise.get().mul(up));
  }
}
