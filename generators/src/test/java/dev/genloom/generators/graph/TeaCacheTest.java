package dev.genloom.generators.graph;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/**
 * TeaCache's indicator per stack: in a graph with two stacks (Flux's double- and single-stream
 * blocks) each stack's first residual is compared with its own from the previous step, never with
 * the other stack's.
 */
class TeaCacheTest {
  @Test
  void eachStackIsComparedWithItselfOnly() {
    try (NDManager scope = NDManager.newBaseManager()) {
      TeaCache cache = new TeaCache(0.5);
      int steps = 6;
      for (int step = 0; step < steps; step++) {
        // each stack changes by 1% a step; the two stacks differ from each other a hundredfold
        float drift = 1f + 0.01f * step;
        boolean doubleSkips =
            cache.skipStackTail(step, steps, "double", scope.ones(new Shape(2, 4)).mul(drift));
        boolean singleSkips =
            cache.skipStackTail(
                step, steps, "single", scope.ones(new Shape(2, 4)).mul(100f * drift));
        boolean inside = step > 0 && step < steps - 1;
        if (inside) {
          assertTrue(doubleSkips, "step " + step + ": the double stack barely changed");
          assertTrue(singleSkips, "step " + step + ": the single stack barely changed");
        } else {
          assertFalse(doubleSkips || singleSkips, "the first and last steps always compute");
        }
      }
    }
  }

  @Test
  void aLargeChangeRecomputesTheStack() {
    try (NDManager scope = NDManager.newBaseManager()) {
      TeaCache cache = new TeaCache(0.5);
      cache.skipStackTail(0, 4, "blocks", scope.ones(new Shape(3)));
      assertFalse(cache.skipStackTail(1, 4, "blocks", scope.ones(new Shape(3)).mul(3f)));
      assertTrue(cache.skipStackTail(2, 4, "blocks", scope.ones(new Shape(3)).mul(3.1f)));
    }
  }
}
