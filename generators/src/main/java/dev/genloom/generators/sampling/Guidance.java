package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;

/** Placeholder until the scheduler branch lands. */
public final class Guidance {
  private Guidance() {}

  public static NDArray combine(NDArray uncond, NDArray cond, double scale, double rescale) {
    return uncond.add(cond.sub(uncond).mul(scale));
  }
}
