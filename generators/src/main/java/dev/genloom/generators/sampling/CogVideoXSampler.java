package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;

/** What CogVideoX's DDIM and DPM schedulers share: the schedule, its timesteps and add_noise. */
abstract class CogVideoXSampler implements Sampler {
  final CogVideoXSchedule schedule;

  CogVideoXSampler(SchedulerConfig.Params p, int steps) {
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

  /** {@code add_noise}: the schedule cast to float32 first, then its square roots. */
  @Override
  public NDArray addNoise(NDArray clean, NDArray noise, int i) {
    float a = (float) schedule.alphasCumprod[schedule.timesteps[i]];
    float signal = (float) Math.sqrt(a);
    float rest = (float) Math.sqrt(1f - a);
    return clean.mul(signal).add(noise.mul(rest));
  }

  /** The predicted clean sample at cumulative alpha {@code a}, per the prediction type. */
  NDArray originalSample(NDArray modelOutput, NDArray sample, double a) {
    double beta = 1 - a;
    return switch (schedule.prediction) {
      case "epsilon" ->
          sample.sub(modelOutput.mul((float) Math.sqrt(beta))).div((float) Math.sqrt(a));
      case "sample" -> modelOutput;
      default -> sample.mul((float) Math.sqrt(a)).sub(modelOutput.mul((float) Math.sqrt(beta)));
    };
  }
}
