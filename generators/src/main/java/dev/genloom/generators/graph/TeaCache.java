package dev.genloom.generators.graph;

import ai.djl.ndarray.NDArray;
import java.util.HashMap;
import java.util.Map;

/**
 * TeaCache / FirstBlockCache-style dynamic caching for a residual block stack. The first block of
 * the stack always runs; the relative L1 change of its residual from the previous step, {@code
 * mean|r_t - r_(t-1)| / mean|r_(t-1)|}, is accumulated, and while the sum stays under the threshold
 * the rest of the stack is skipped and its cached residual applied. In a graph without stacks (a
 * UNet) the indicator is the first cacheable block's output and a skip reuses the other cacheable
 * blocks' outputs ({@link GraphExecutor#CACHEABLE_STACK}). Crossing the threshold recomputes the
 * stack and resets the sum. The first and last steps are always computed. A graph with several
 * stacks (Flux: double-stream, then single-stream blocks) keeps one indicator and one sum per
 * stack: each stack's first residual is compared with its own from the previous step. The rescaling
 * polynomial is the identity (no per-model fit).
 */
public final class TeaCache implements CachePolicy {
  private final double threshold;
  private final Map<String, Stack> stacks = new HashMap<>();

  /** One stack's indicator from the previous step and its accumulated change. */
  private static final class Stack {
    NDArray previousResidual;
    double accumulated;
  }

  public TeaCache(double threshold) {
    if (!(threshold > 0) || !Double.isFinite(threshold)) {
      throw new IllegalArgumentException(
          "cache: teacache threshold must be a finite value > 0, got " + threshold);
    }
    this.threshold = threshold;
  }

  @Override
  public boolean skipStackTail(int step, int totalSteps, String group, NDArray firstResidual) {
    Stack stack = stacks.computeIfAbsent(group, g -> new Stack());
    NDArray previous = stack.previousResidual;
    stack.previousResidual = firstResidual.duplicate();
    try {
      if (previous == null || step == 0 || step == totalSteps - 1) {
        stack.accumulated = 0;
        return false;
      }
      double denominator;
      try (NDArray abs = previous.abs();
          NDArray mean = abs.mean()) {
        denominator = mean.getFloat();
      }
      double change;
      try (NDArray diff = firstResidual.sub(previous);
          NDArray abs = diff.abs();
          NDArray mean = abs.mean()) {
        change = mean.getFloat() / Math.max(denominator, 1e-12);
      }
      stack.accumulated += change;
      if (stack.accumulated < threshold) {
        return true;
      }
      stack.accumulated = 0;
      return false;
    } finally {
      if (previous != null) {
        previous.close();
      }
    }
  }

  @Override
  public String describe() {
    return "teacache:" + threshold;
  }
}
