package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * diffusers 0.30.3's {@code CogVideoXDDIMScheduler}: deterministic DDIM on {@link
 * CogVideoXSchedule}, {@code x_prev = a x + b x0} with {@code a = sqrt((1 - a') / (1 - a))} and
 * {@code b = sqrt(a') - sqrt(a) a}. Unlike DDIM it takes no eta and never clips. The coefficients
 * are float64, each applied to the float32 tensors as diffusers' 0-dim float64 tensors are.
 */
public final class CogVideoXDdim extends CogVideoXSampler {
  CogVideoXDdim(SchedulerConfig.Params p, int steps, double eta) {
    super(p, steps);
    if (eta != 0) {
      throw new IllegalArgumentException(
          "eta: CogVideoXDDIMScheduler takes no eta (diffusers ignores it), got " + eta);
    }
  }

  @Override
  public NDArray step(int i, NDArray modelOutput, NDArray sample, Supplier<NDArray> noise) {
    int t = schedule.timesteps[i];
    double a = schedule.alpha(t);
    double aPrev = schedule.alpha(schedule.previous(t));
    NDArray x0 = originalSample(modelOutput, sample, a);
    double at = Math.sqrt((1 - aPrev) / (1 - a));
    double bt = Math.sqrt(aPrev) - Math.sqrt(a) * at;
    return sample.mul((float) at).add(x0.mul((float) bt));
  }
}
