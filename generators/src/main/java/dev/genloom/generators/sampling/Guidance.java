package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Classifier-free guidance (Ho and Salimans 2022) and the guidance rescale of Lin et al. 2023, as
 * diffusers 0.30.3's Stable Diffusion pipelines apply them ({@code rescale_noise_cfg}).
 */
public final class Guidance {
  private Guidance() {}

  /**
   * {@code uncond + scale (cond - uncond)}; with {@code rescale > 0} the result is then mixed with
   * itself rescaled to the conditional output's standard deviation: {@code rescale * cfg *
   * std(cond) / std(cfg) + (1 - rescale) * cfg}, the standard deviations (with Bessel's correction)
   * taken per batch item over all other dimensions.
   */
  public static NDArray combine(NDArray uncond, NDArray cond, double scale, double rescale) {
    if (!Double.isFinite(scale)) {
      throw new IllegalArgumentException("guidance_scale: must be finite, got " + scale);
    }
    if (!(rescale >= 0 && rescale <= 1)) {
      throw new IllegalArgumentException("guidance_rescale: must be in [0, 1], got " + rescale);
    }
    NDArray cfg = uncond.add(cond.sub(uncond).mul((float) scale));
    if (rescale <= 0) {
      return cfg;
    }
    NDArray ratio = std(cond).div(std(cfg));
    NDArray rescaled = cfg.mul(ratio);
    return rescaled.mul((float) rescale).add(cfg.mul((float) (1 - rescale)));
  }

  /** Per-item standard deviation with Bessel's correction, accumulated in float64 as torch does. */
  private static NDArray std(NDArray x) {
    int dims = x.getShape().dimension();
    if (dims < 2) {
      throw new IllegalArgumentException("guidance: outputs need a batch dimension");
    }
    long batch = x.getShape().get(0);
    long count = x.getShape().size() / batch;
    long[] kept = new long[dims];
    java.util.Arrays.fill(kept, 1);
    kept[0] = batch;
    NDArray wide = x.toType(DataType.FLOAT64, false).reshape(batch, count);
    NDArray centred = wide.sub(wide.mean(new int[] {1}, true));
    return centred
        .square()
        .sum(new int[] {1}, true)
        .div((double) (count - 1))
        .sqrt()
        .toType(DataType.FLOAT32, false)
        .reshape(new ai.djl.ndarray.types.Shape(kept));
  }
}
