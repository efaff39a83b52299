package dev.genloom.generators.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.genloom.proto.v1.CacheSchedule;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GraphExecutorTest {
  private final NDManager manager = NDManager.newBaseManager();

  @AfterEach
  void close() {
    manager.close();
  }

  /**
   * embed (x -> 2x), a three-block residual stack h -> h + k*t*1 (t fed as input), final h -> h.
   */
  private static List<GraphBlock> dit(List<String> calls) {
    List<GraphBlock> blocks = new ArrayList<>();
    blocks.add(
        new GraphBlock(
            "embed",
            List.of("x"),
            List.of("h"),
            false,
            "",
            in -> {
              calls.add("embed");
              return new NDList(in.get(0).mul(2));
            }));
    for (int k = 1; k <= 3; k++) {
      int scale = k;
      String name = "transformer_blocks." + (k - 1);
      blocks.add(
          new GraphBlock(
              name,
              List.of("h", "t"),
              List.of("h"),
              true,
              "transformer_blocks",
              in -> {
                calls.add(name);
                return new NDList(in.get(0).add(in.get(1).mul(scale)));
              }));
    }
    blocks.add(
        new GraphBlock(
            "final",
            List.of("h"),
            List.of("out"),
            false,
            "",
            in -> {
              calls.add("final");
              return new NDList(in.get(0).add(0));
            }));
    return blocks;
  }

  private float run(GraphExecutor executor, int step, int steps, float x, float t) {
    Map<String, NDArray> inputs = new LinkedHashMap<>();
    inputs.put("x", manager.create(new float[] {x}));
    inputs.put("t", manager.create(new float[] {t}));
    return executor.run(step, steps, inputs).getFloat(0);
  }

  @Test
  void uncachedRunComputesEveryBlockEveryStep() {
    List<String> calls = new ArrayList<>();
    GraphExecutor executor =
        new GraphExecutor(dit(calls), "out", CachePolicy.NONE, GraphExecutor.BlockObserver.NONE);
    assertEquals(2 * 1 + 6 * 1, run(executor, 0, 3, 1, 1), 1e-6);
    assertEquals(2 * 2 + 6 * 3, run(executor, 1, 3, 2, 3), 1e-6);
    assertEquals(10, executor.evaluations());
    assertEquals(0, executor.skips());
  }

  @Test
  void foraReusesStackResidualsBetweenRecomputes() {
    List<String> calls = new ArrayList<>();
    GraphExecutor executor =
        new GraphExecutor(dit(calls), "out", new ForaCache(2), GraphExecutor.BlockObserver.NONE);
    run(executor, 0, 4, 1, 1); // computes all; residuals 1, 2, 3
    calls.clear();
    // Step 1 reuses the stack: h = 2*5 + (1 + 2 + 3) even though t changed to 10.
    assertEquals(16, run(executor, 1, 4, 5, 10), 1e-6);
    assertEquals(List.of("embed", "final"), calls);
    assertEquals(2 * 1 + 6 * 2, run(executor, 2, 4, 1, 2), 1e-6);
    run(executor, 3, 4, 1, 2); // last step always computes
    assertEquals(3, executor.skips());
    assertEquals(17, executor.evaluations());
  }

  @Test
  void teaCacheSkipsTheStackTailWhileTheFirstResidualIsSteady() {
    List<String> calls = new ArrayList<>();
    GraphExecutor executor =
        new GraphExecutor(dit(calls), "out", new TeaCache(0.1), GraphExecutor.BlockObserver.NONE);
    int steps = 5;
    for (int step = 0; step < steps; step++) {
      // t stays 1: the first block's residual never changes, so steps 1..3 skip blocks 1 and 2.
      assertEquals(2 + 6, run(executor, step, steps, 1, 1), 1e-6);
    }
    assertEquals(3 * 2, executor.skips());
    assertEquals(5 * 5 - 6, executor.evaluations());
  }

  @Test
  void teaCacheRecomputesWhenTheChangeAccumulates() {
    GraphExecutor executor =
        new GraphExecutor(
            dit(new ArrayList<>()), "out", new TeaCache(0.1), GraphExecutor.BlockObserver.NONE);
    run(executor, 0, 4, 1, 1);
    // The first residual doubles (relative change 1.0 > 0.1): the whole stack is recomputed.
    assertEquals(2 + 12, run(executor, 1, 4, 1, 2), 1e-6);
    assertEquals(0, executor.skips());
  }

  /**
   * A UNet-shaped graph without stacks: conv_in (x -> x), down (h -> h + t, with skip h), up (h +
   * skip), conv_out (h -> 10 h); down and up are cacheable.
   */
  private static List<GraphBlock> unet(List<String> calls) {
    List<GraphBlock> blocks = new ArrayList<>();
    blocks.add(
        new GraphBlock(
            "conv_in",
            List.of("x"),
            List.of("h"),
            false,
            "",
            in -> {
              calls.add("conv_in");
              return new NDList(in.get(0).add(0));
            }));
    blocks.add(
        new GraphBlock(
            "down_blocks.0",
            List.of("h", "t"),
            List.of("down", "skip"),
            true,
            "",
            in -> {
              calls.add("down_blocks.0");
              return new NDList(in.get(0).add(in.get(1)), in.get(0).mul(1));
            }));
    blocks.add(
        new GraphBlock(
            "up_blocks.0",
            List.of("down", "skip"),
            List.of("up"),
            true,
            "",
            in -> {
              calls.add("up_blocks.0");
              return new NDList(in.get(0).add(in.get(1)));
            }));
    blocks.add(
        new GraphBlock(
            "conv_out",
            List.of("up"),
            List.of("out"),
            false,
            "",
            in -> {
              calls.add("conv_out");
              return new NDList(in.get(0).mul(10));
            }));
    return blocks;
  }

  @Test
  void teaCacheOnAGraphWithoutStacksReusesTheLaterCacheableBlocks() {
    List<String> calls = new ArrayList<>();
    GraphExecutor executor =
        new GraphExecutor(unet(calls), "out", new TeaCache(0.1), GraphExecutor.BlockObserver.NONE);
    int steps = 4;
    assertEquals(10 * (1 + 1 + 1), run(executor, 0, steps, 1, 1), 1e-6);
    assertEquals(10 * (1 + 1 + 1), run(executor, 1, steps, 1, 1), 1e-6);
    calls.clear();
    // The first cacheable block's output is unchanged, so up_blocks.0 reuses its output even
    // though x changed: conv_out sees the previous step's features.
    assertEquals(10 * 3, run(executor, 2, steps, 1.001f, 1), 1e-6);
    assertEquals(List.of("conv_in", "down_blocks.0", "conv_out"), calls);
    calls.clear();
    // The last step always computes.
    assertEquals(10 * (2 + 2 + 2), run(executor, 3, steps, 2, 2), 1e-5);
    assertEquals(List.of("conv_in", "down_blocks.0", "up_blocks.0", "conv_out"), calls);
    assertTrue(executor.skips() >= 1);
  }

  /** The UNet-shaped graph with every block's outputs recorded, to see which are released. */
  private static List<GraphBlock> recorded(List<NDArray> outputs) {
    List<GraphBlock> blocks = new ArrayList<>();
    for (GraphBlock block : unet(new ArrayList<>())) {
      blocks.add(
          new GraphBlock(
              block.name(),
              block.inputs(),
              block.outputs(),
              block.cacheable(),
              block.group(),
              in -> {
                NDList out = block.runner().run(in);
                outputs.addAll(out);
                return out;
              }));
    }
    return blocks;
  }

  @Test
  void intermediateTensorsAreReleasedAfterEachStep() {
    List<NDArray> outputs = new ArrayList<>();
    GraphExecutor uncached =
        new GraphExecutor(
            recorded(outputs), "out", CachePolicy.NONE, GraphExecutor.BlockObserver.NONE);
    for (int step = 0; step < 3; step++) {
      outputs.clear();
      Map<String, NDArray> inputs = new LinkedHashMap<>();
      inputs.put("x", manager.create(new float[] {1}));
      inputs.put("t", manager.create(new float[] {1}));
      NDArray out = uncached.run(step, 3, inputs);
      assertEquals(30, out.getFloat(0), 1e-6);
      assertEquals(5, outputs.size());
      for (NDArray a : outputs) {
        assertEquals(a != out, a.isReleased(), "only the graph output survives the step");
      }
      assertTrue(!inputs.get("x").isReleased(), "graph inputs belong to the caller");
    }
    outputs.clear();
    GraphExecutor fora =
        new GraphExecutor(
            recorded(outputs), "out", new ForaCache(2), GraphExecutor.BlockObserver.NONE);
    run(fora, 0, 3, 1, 1);
    long kept = outputs.stream().filter(a -> !a.isReleased()).count();
    // conv_out's output (the graph output) and the three outputs of the two cacheable blocks.
    assertEquals(4, kept);
    assertEquals(30, run(fora, 1, 3, 5, 5), 1e-6);
  }

  @Test
  void scheduledCacheFollowsPerBlockMasksAndCalibrationDerivesThem() {
    Map<String, double[]> changes = new LinkedHashMap<>();
    changes.put("transformer_blocks.0", new double[] {0, 0.3, 0.3, 0.3});
    changes.put("transformer_blocks.1", new double[] {0, 0.6, 0.6, 0.6});
    CacheSchedule schedule = BlockChangeRecorder.schedule("euler", 4, 0.5, changes);
    assertEquals(List.of(true, false, true, false), schedule.getBlocks(0).getComputeList());
    assertEquals(List.of(true, true, true, true), schedule.getBlocks(1).getComputeList());

    List<String> calls = new ArrayList<>();
    GraphExecutor executor =
        new GraphExecutor(
            dit(calls), "out", new ScheduledCache(schedule), GraphExecutor.BlockObserver.NONE);
    for (int step = 0; step < 4; step++) {
      run(executor, step, 4, 1, 1);
    }
    assertEquals(2, executor.skips());
    assertTrue(calls.stream().filter("transformer_blocks.0"::equals).count() == 2);
  }

  @Test
  void recorderMeasuresRelativeL1ChangeOfEachCacheableBlock() {
    BlockChangeRecorder recorder = new BlockChangeRecorder(3);
    GraphExecutor executor =
        new GraphExecutor(dit(new ArrayList<>()), "out", CachePolicy.NONE, recorder);
    recorder.startGeneration();
    run(executor, 0, 3, 1, 1); // block 0 output 3
    run(executor, 1, 3, 1, 2); // block 0 output 4: |4-3|/4
    run(executor, 2, 3, 1, 2); // unchanged
    double[] change = recorder.meanChanges().get("transformer_blocks.0");
    assertArrayEquals(new double[] {0, 0.25, 0}, change, 1e-6);
    assertEquals(3, recorder.meanChanges().size());
  }

  @Test
  void aForecastExtrapolatesSkippedResidualsWhereReuseDoesNot() {
    // t grows with the square of the step, so each block's residual k*t is quadratic in the step
    int steps = 10;
    GraphExecutor uncached =
        new GraphExecutor(
            dit(new ArrayList<>()), "out", CachePolicy.NONE, GraphExecutor.BlockObserver.NONE);
    GraphExecutor second =
        new GraphExecutor(
            dit(new ArrayList<>()),
            "out",
            new ForecastCache(3, 2),
            GraphExecutor.BlockObserver.NONE);
    GraphExecutor first =
        new GraphExecutor(
            dit(new ArrayList<>()),
            "out",
            new ForecastCache(3, 1),
            GraphExecutor.BlockObserver.NONE);
    GraphExecutor reuse =
        new GraphExecutor(
            dit(new ArrayList<>()), "out", new ForaCache(3), GraphExecutor.BlockObserver.NONE);
    for (int step = 0; step < steps; step++) {
      float t = step * step;
      float exact = run(uncached, step, steps, 1f, t);
      float quadratic = run(second, step, steps, 1f, t);
      float linear = run(first, step, steps, 1f, t);
      float reused = run(reuse, step, steps, 1f, t);
      if (step % 3 == 0 || step == steps - 1) {
        assertEquals(exact, quadratic, 1e-4, "computed step " + step);
      } else if (step > 6) {
        // three computed steps (0, 3, 6): second differences reproduce a quadratic exactly
        assertEquals(exact, quadratic, 1e-3, "step " + step);
        assertTrue(Math.abs(linear - exact) > 1, "first order misses the curvature at " + step);
        assertTrue(Math.abs(linear - exact) < Math.abs(reused - exact), "step " + step);
      } else if (step > 3) {
        // two computed steps: the forecast is first order, still nearer than reuse
        assertEquals(linear, quadratic, 1e-4, "step " + step);
        assertTrue(Math.abs(quadratic - exact) < Math.abs(reused - exact), "step " + step);
      } else {
        assertEquals(reused, quadratic, 1e-6, "one computed step: reuse, step " + step);
      }
    }
    assertEquals(reuse.evaluations(), second.evaluations(), "same blocks computed as FORA");
  }
}
