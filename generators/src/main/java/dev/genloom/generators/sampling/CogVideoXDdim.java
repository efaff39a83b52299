package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * diffusers 0.30.3's {@code CogVideoXDDIMScheduler}: deterministic DDIM on {@link
 * CogVideoXSchedule}, {@code x_prev = a x + b x0} with {@code a = sqrt((1 - a') / (1 - a))} and
 * {@code b = sqrt(a') - sqrt(a) a}. Unlike DDIM it takes no eta and never clips. The coefficients
 * are float64, each applied to the float32 tensors as diffusers' 0-dim float64 tensors are.
 */
public final class CogVideoXDdim implements Sampler {
  private final CogVideoXSchedule schedule;

  CogVideoXDdim(SchedulerConfig.Params p, int steps, double eta) {
    if (eta != 0) {
      throw new IllegalArgumentException(
          "eta: CogVideoXDDIMScheduler takes no eta (diffusers ignores it), got " + eta);
    }
    this.schedule = new CogVideoXSchedule(p, steps);
  }

  @Override
  public int steps() {
    return schedule.timesteps.length;
  }

  @Override
  public float modelTimestep(int i) {
    return schedule.timesteps[i];
  }

  int timestep(int i) {
    return schedule.timesteps[i];
  }

  @Override
  public NDArray addNoise(NDArray clean, NDArray noise, int i) {
    return CogVideoXDdim.addNoise(schedule, clean, noise, i);
  }

  /** {@code add_noise}: the schedule cast to float32 first, then its square roots. */
  static NDArray addNoise(CogVideoXSchedule schedule, NDArray clean, NDArray noise, int i) {
    float a = (float) schedule.alphasCumprod[schedule.timesteps[i]];
    float signal = (float) Math.sqrt(a);
    float rest = (float) Math.sqrt(1f - a);
    return clean.mul(signal).add(noise.mul(rest));
  }

  @Override
  public NDArray step(int i, NDArray modelOutput, NDArray sample, Supplier<NDArray> noise) {
    int t = schedule.timesteps[i];
    double a = schedule.alpha(t);
    double aPrev = schedule.alpha(schedule.previous(t));
    NDArray x0 = originalSample(schedule, modelOutput, sample, a);
    double at = Math.sqrt((1 - aPrev) / (1 - a));
    double bt = Math.sqrt(aPrev) - Math.sqrt(a) * at;
    return sample.mul((float) at).add(x0.mul((float) bt));
  }

  /** The predicted clean sample at cumulative alpha {@code a}, per the prediction type. */
  static NDArray originalSample(
      CogVideoXSchedule schedule, NDArray modelOutput, NDArray sample, double a) {
    double beta = 1 - a;
    return switch (schedule.prediction) {
      case "epsilon" ->
          sample.sub(modelOutput.mul((float) Math.sqrt(beta))).div((float) Math.sqrt(a));
      case "sample" -> modelOutput;
      default -> sample.mul((float) Math.sqrt(a)).sub(modelOutput.mul((float) Math.sqrt(beta)));
    };
  }
}
