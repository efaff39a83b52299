package dev.genloom.generators.graph;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import dev.genloom.proto.v1.CacheSchedule;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Calibration for block caching: records, for each cacheable block and step, the relative L1 change
 * of its output from the previous step, {@code ||o_t - o_(t-1)||_1 / ||o_t||_1}, averaged over
 * every generation observed (Wimbauer et al., CVPR 2024). The recorder must observe uncached runs.
 */
public final class BlockChangeRecorder implements GraphExecutor.BlockObserver {
  private final int steps;
  private final Map<String, double[]> sums = new LinkedHashMap<>();
  private final Map<String, int[]> counts = new HashMap<>();
  private final Map<String, NDArray> previous = new HashMap<>();

  public BlockChangeRecorder(int steps) {
    this.steps = steps;
  }

  /** Call before each calibration generation so its first step is not compared to another run. */
  public void startGeneration() {
    previous.clear();
  }

  @Override
  public void computed(int step, GraphBlock block, NDList outputs) {
    if (!block.cacheable()) {
      return;
    }
    // The executor closes the outputs after the step, so the recorder keeps its own copy.
    NDArray current = outputs.get(0).duplicate();
    NDArray before = previous.put(block.name(), current);
    sums.computeIfAbsent(block.name(), k -> new double[steps]);
    counts.computeIfAbsent(block.name(), k -> new int[steps]);
    if (before == null || step == 0) {
      return;
    }
    double norm;
    try (NDArray abs = current.abs();
        NDArray sum = abs.sum()) {
      norm = sum.getFloat();
    }
    double change;
    try (NDArray diff = current.sub(before);
        NDArray abs = diff.abs();
        NDArray sum = abs.sum()) {
      change = sum.getFloat() / Math.max(norm, 1e-12);
    }
    before.close();
    sums.get(block.name())[step] += change;
    counts.get(block.name())[step]++;
  }

  /** Mean relative change per block and step (step 0 is 0). */
  public Map<String, double[]> meanChanges() {
    Map<String, double[]> means = new LinkedHashMap<>();
    sums.forEach(
        (name, sum) -> {
          int[] n = counts.get(name);
          double[] mean = new double[steps];
          for (int t = 0; t < steps; t++) {
            mean[t] = n[t] == 0 ? 0 : sum[t] / n[t];
          }
          means.put(name, mean);
        });
    return means;
  }

  /**
   * The schedule for threshold {@code delta}: compute every block at the first step; afterwards
   * recompute a block when its change accumulated since its last computation exceeds delta.
   */
  public static CacheSchedule schedule(
      String sampler, int steps, double delta, Map<String, double[]> meanChanges) {
    CacheSchedule.Builder schedule =
        CacheSchedule.newBuilder().setSampler(sampler).setSteps(steps).setDelta(delta);
    meanChanges.forEach(
        (block, change) -> {
          List<Boolean> mask = new ArrayList<>(steps);
          double accumulated = 0;
          for (int t = 0; t < steps; t++) {
            if (t == 0) {
              mask.add(true);
              continue;
            }
            accumulated += change[t];
            if (accumulated > delta) {
              mask.add(true);
              accumulated = 0;
            } else {
              mask.add(false);
            }
          }
          schedule.addBlocks(
              CacheSchedule.BlockSchedule.newBuilder().setBlock(block).addAllCompute(mask));
        });
    return schedule.build();
  }
}
