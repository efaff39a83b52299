package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * diffusers 0.30.3's {@code CogVideoXDPMScheduler}: DPM-Solver++(2M) SDE in the midpoint form, in
 * lambda = log sqrt(a / (1 - a)), on {@link CogVideoXSchedule}. Every step draws noise for the
 * first-order update; a step with a previous clean-sample prediction and a timestep after it draws
 * again and takes the second-order update instead (the first draw is consumed, its result
 * discarded, as in diffusers). The previous prediction is this sampler's state.
 */
public final class CogVideoXDpm extends CogVideoXSampler {
  private NDArray previousOriginal;

  CogVideoXDpm(SchedulerConfig.Params p, int steps) {
    super(p, steps);
  }

  @Override
  public boolean drawsNoise(int i) {
    return true;
  }

  private static double lambda(double a) {
    return Math.log(Math.sqrt(a / (1 - a)));
  }

  @Override
  public NDArray step(int i, NDArray modelOutput, NDArray sample, Supplier<NDArray> noise) {
    int t = schedule.timesteps[i];
    int prev = schedule.previous(t);
    double a = schedule.alpha(t);
    double aPrev = schedule.alpha(prev);
    NDArray x0 = originalSample(modelOutput, sample, a);
    double lambda = lambda(a);
    double h = lambda(aPrev) - lambda;
    double m1 = Math.sqrt((1 - aPrev) / (1 - a)) * Math.exp(-h);
    double m2 = Math.expm1(-2 * h) * Math.sqrt(aPrev);
    double mNoise = Math.sqrt(1 - aPrev) * Math.sqrt(1 - Math.exp(-2 * h));
    NDArray first = noise.get();
    NDArray old = previousOriginal;
    previousOriginal = x0;
    if (old == null || prev < 0) {
      return sample.mul((float) m1).sub(x0.mul((float) m2)).add(first.mul((float) mNoise));
    }
    double aBack = schedule.alpha(schedule.timesteps[i - 1]);
    double r = (lambda - lambda(aBack)) / h;
    double m3 = 1 + 1 / (2 * r);
    double m4 = 1 / (2 * r);
    NDArray denoised = x0.mul((float) m3).sub(old.mul((float) m4));
    NDArray second = noise.get();
    return sample.mul((float) m1).sub(denoised.mul((float) m2)).add(second.mul((float) mNoise));
  }
}
