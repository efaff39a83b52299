package dev.genloom.generators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/** Replays the random numbers a reference run recorded for one batch item. */
final class ReplayNoise implements NoiseSource {
  private final Deque<NDArray> gaussians;
  private final Deque<Double> uniforms;

  ReplayNoise(List<NDArray> gaussians, List<Double> uniforms) {
    this.gaussians = new ArrayDeque<>(gaussians);
    this.uniforms = new ArrayDeque<>(uniforms);
  }

  @Override
  public NDArray gaussian(NDManager manager, Shape shape) {
    NDArray next = gaussians.removeFirst();
    if (!next.getShape().equals(shape)) {
      throw new AssertionError("recorded noise has shape " + next.getShape() + ", wanted " + shape);
    }
    return next;
  }

  @Override
  public double uniform() {
    return uniforms.removeFirst();
  }
}
