package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * One denoising trajectory. An instance is created per generation (multistep samplers keep history)
 * and is not thread-safe. The loop mirrors diffusers' pipelines: the initial latent is {@code noise
 * * initNoiseSigma()}; at step {@code i} the denoiser gets {@code scaleModelInput(x, i)} and {@code
 * modelTimestep(i)}, and {@code x = step(i, guidedOutput, x, noise)}.
 */
public interface Sampler {
  /** Number of denoiser evaluations in the trajectory. */
  int steps();

  /** The value fed to the denoiser's {@code timestep} input at step {@code i}. */
  float modelTimestep(int i);

  /** The factor of the initial standard-normal latent (diffusers' {@code init_noise_sigma}). */
  default double initNoiseSigma() {
    return 1.0;
  }

  /** The denoiser's input at step {@code i} (diffusers' {@code scale_model_input}). */
  default NDArray scaleModelInput(NDArray sample, int i) {
    return sample;
  }

  /**
   * Noises a clean latent to the noise level of step {@code i}, for image-to-image (SDEdit) and
   * image-to-video starts (diffusers' {@code add_noise} at {@code timesteps[i]}).
   */
  NDArray addNoise(NDArray clean, NDArray noise, int i);

  /**
   * Advances {@code sample} from step {@code i} to the next, given the (guided) model output in the
   * scheduler config's prediction type; the sampler converts it.
   *
   * @param noise supplies fresh standard-normal noise shaped like the sample, for stochastic steps
   */
  NDArray step(int i, NDArray modelOutput, NDArray sample, Supplier<NDArray> noise);

  /** Whether step {@code i} draws noise (so callers can record or reproduce it). */
  default boolean drawsNoise(int i) {
    return false;
  }
}
