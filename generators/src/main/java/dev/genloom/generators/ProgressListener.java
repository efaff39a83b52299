package dev.genloom.generators;

import java.util.function.Supplier;

/** Receives one call per denoising or decoding step of a (batched) generation. */
@FunctionalInterface
public interface ProgressListener {
  /**
   * @param step 1-based completed step
   * @param totalSteps steps in the trajectory
   * @param preview the current estimate of the first item, computed only when asked for
   */
  void onStep(int step, int totalSteps, Supplier<RgbImage> preview);

  /** Whether the work should stop between steps (a cancelled or expired call). */
  default boolean cancelled() {
    return false;
  }

  ProgressListener NONE = (step, total, preview) -> {};
}
