package dev.genloom.generators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Where a generation's random numbers come from. Production draws from {@link SeededNoise};
 * conformance tests replay the noise a reference run recorded.
 */
public interface NoiseSource {
  /** Standard-normal tensor of {@code shape}. */
  NDArray gaussian(NDManager manager, Shape shape);

  /** Uniform doubles in [0, 1), for token sampling. */
  double uniform();

  /** The seeded source: values in row-major order from one {@link SeededNoise} stream. */
  static NoiseSource seeded(long seed) {
    SeededNoise noise = new SeededNoise(seed);
    return new NoiseSource() {
      @Override
      public NDArray gaussian(NDManager manager, Shape shape) {
        return manager.create(noise.gaussians(Math.toIntExact(shape.size())), shape);
      }

      @Override
      public double uniform() {
        return noise.nextUniform();
      }
    };
  }
}
