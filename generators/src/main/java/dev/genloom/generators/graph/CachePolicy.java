package dev.genloom.generators.graph;

import ai.djl.ndarray.NDArray;

/**
 * Decides, step by step, which blocks to compute. One instance serves one generation.
 *
 * <p>Per-block policies answer {@link #computeBlock}. Stack policies (TeaCache-style) see the
 * residual of the first block of each stack through {@link #skipStackTail} and may skip the rest of
 * the stack, reusing its cached residual.
 */
public interface CachePolicy {
  /** Whether block {@code index} ({@code block}) is computed at {@code step}. */
  default boolean computeBlock(int step, int totalSteps, int index, GraphBlock block) {
    return true;
  }

  /**
   * Called after the first block of stack {@code group} ran at {@code step}; returning true skips
   * the remaining blocks of the stack and applies their cached residual. {@code firstResidual} is
   * valid during the call only: a policy that compares it with a later step's keeps a copy.
   */
  default boolean skipStackTail(int step, int totalSteps, String group, NDArray firstResidual) {
    return false;
  }

  /**
   * How a skipped block's output is made: 0 reuses the last computed one (FORA, schedules); 1 or 2
   * extrapolates it from the last two or three computed ones by divided differences over their
   * steps (first or second order, as TaylorSeer forecasts features).
   */
  default int forecastOrder() {
    return 0;
  }

  /** Policy name for logs and results. */
  String describe();

  /**
   * Whether this policy ever reuses a block's earlier outputs; when not, the executor keeps no
   * outputs from step to step.
   */
  default boolean reuses() {
    return true;
  }

  /** Computes everything. */
  CachePolicy NONE =
      new CachePolicy() {
        @Override
        public String describe() {
          return "none";
        }

        @Override
        public boolean reuses() {
          return false;
        }
      };
}
