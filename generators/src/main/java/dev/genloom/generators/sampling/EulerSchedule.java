package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;

/**
 * What diffusers' Euler schedulers share: float timesteps, the sigma at each (a final one past the
 * last step), {@code init_noise_sigma}, the model input scaled by {@code 1 / sqrt(sigma^2 + 1)},
 * {@code add_noise} as {@code clean + sigma noise}, and the prediction type's x0.
 */
abstract class EulerSchedule implements Sampler {
  final float[] timesteps;
  final float[] sigmas;
  final PredictionType prediction;
  private final float initNoiseSigma;

  EulerSchedule(float[] timesteps, float[] sigmas, String spacing, PredictionType prediction) {
    this.timesteps = timesteps;
    this.sigmas = sigmas;
    this.prediction = prediction;
    this.initNoiseSigma = EulerDiscrete.initNoiseSigma(sigmas, spacing);
  }

  @Override
  public final int steps() {
    return timesteps.length;
  }

  public final float sigma(int i) {
    return sigmas[i];
  }

  @Override
  public final float modelTimestep(int i) {
    return timesteps[i];
  }

  @Override
  public final double initNoiseSigma() {
    return initNoiseSigma;
  }

  @Override
  public final NDArray scaleModelInput(NDArray sample, int i) {
    float sigma = sigmas[i];
    return sample.div((float) Math.sqrt(sigma * sigma + 1f));
  }

  @Override
  public final NDArray addNoise(NDArray clean, NDArray noise, int i) {
    return clean.add(noise.mul(sigmas[i]));
  }

  /** diffusers' {@code pred_original_sample} of the Euler schedulers at step {@code i}. */
  final NDArray x0(NDArray modelOutput, NDArray sample, int i) {
    float sigma = sigmas[i];
    return switch (prediction) {
      case EPSILON -> sample.sub(modelOutput.mul(sigma));
      case SAMPLE -> modelOutput;
      default -> {
        float s2 = sigma * sigma + 1f;
        yield modelOutput.mul(-sigma / (float) Math.sqrt(s2)).add(sample.div(s2));
      }
    };
  }
}
