package dev.genloom.generators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * Replays the random numbers a reference run recorded for one batch item, in the order the run drew
 * them (conformance checks against recorded goldens).
 */
final class ReplayNoise implements NoiseSource {
  private final Deque<NDArray> gaussians;
  private final Deque<Double> uniforms;

  ReplayNoise(List<NDArray> gaussians, List<Double> uniforms) {
    this.gaussians = new ArrayDeque<>(gaussians);
    this.uniforms = new ArrayDeque<>(uniforms);
  }

  @Override
  public NDArray gaussian(NDManager manager, Shape shape) {
    if (gaussians.isEmpty()) {
      throw new IllegalStateException("the recording holds no more gaussian draws");
    }
    NDArray next = gaussians.removeFirst();
    if (!next.getShape().equals(shape)) {
      throw new IllegalStateException(
          "recorded noise has shape " + next.getShape() + ", wanted " + shape);
    }
    return next;
  }

  @Override
  public double uniform() {
    if (uniforms.isEmpty()) {
      throw new IllegalStateException("the recording holds no more uniform draws");
    }
    return uniforms.removeFirst();
  }
}
