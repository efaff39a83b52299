package dev.genloom.generators.graph;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Runs one batched denoiser step for rows that may follow different cache policies. Rows are split
 * into lanes, each with its own {@link GraphExecutor} and so its own cached tensors: rows whose
 * policy decides the same way whatever the data (none, a calibrated schedule, FORA) share a lane
 * with the rows of the same policy; a policy that decides from the data (TeaCache) gets a lane per
 * row, so no item and no guidance branch ever decides from, or reuses, another's tensors. Every
 * graph input whose first dimension is the row count is split by lane; the lanes' outputs are put
 * back in row order.
 *
 * <p>With one lane holding every row (a batch of one policy that decides the same way for all), the
 * step is exactly the single executor's. Not thread-safe: one per generation.
 */
public final class LaneExecutor {
  /**
   * One row's policy: {@code key} names it; rows with equal keys share a lane unless data-driven.
   */
  public record RowPolicy(String key, boolean dataDriven, Supplier<CachePolicy> policy) {}

  private final int rows;
  private final List<int[]> lanes = new ArrayList<>();
  private final List<GraphExecutor> executors = new ArrayList<>();
  private final int[] laneOfRow;

  /** Per lane: graph input name to {the array last sliced, its slice}. */
  private final List<Map<String, NDArray[]>> slices = new ArrayList<>();

  public LaneExecutor(
      List<GraphBlock> blocks,
      String output,
      List<RowPolicy> rowPolicies,
      GraphExecutor.BlockObserver observer) {
    this.rows = rowPolicies.size();
    this.laneOfRow = new int[rows];
    Map<String, List<Integer>> byKey = new LinkedHashMap<>();
    Map<String, RowPolicy> first = new HashMap<>();
    for (int r = 0; r < rows; r++) {
      RowPolicy p = rowPolicies.get(r);
      String key = p.dataDriven() ? p.key() + "#row" + r : p.key();
      byKey.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
      first.putIfAbsent(key, p);
    }
    for (Map.Entry<String, List<Integer>> lane : byKey.entrySet()) {
      int[] members = lane.getValue().stream().mapToInt(Integer::intValue).toArray();
      for (int r : members) {
        laneOfRow[r] = lanes.size();
      }
      lanes.add(members);
      executors.add(
          new GraphExecutor(blocks, output, first.get(lane.getKey()).policy().get(), observer));
      slices.add(new HashMap<>());
    }
  }

  /** Runs every lane once for {@code step}; returns the graph output for all rows, in row order. */
  public NDArray run(int step, int totalSteps, Map<String, NDArray> graphInputs) {
    if (lanes.size() == 1) {
      return executors.get(0).run(step, totalSteps, graphInputs);
    }
    NDArray[] byRow = new NDArray[rows];
    List<NDArray> rowViews = new ArrayList<>();
    for (int l = 0; l < lanes.size(); l++) {
      int[] members = lanes.get(l);
      Map<String, NDArray[]> memo = slices.get(l);
      Map<String, NDArray> inputs = new HashMap<>();
      for (Map.Entry<String, NDArray> input : graphInputs.entrySet()) {
        NDArray value = input.getValue();
        if (value.getShape().dimension() == 0 || value.getShape().get(0) != rows) {
          inputs.put(input.getKey(), value);
          continue;
        }
        // an input that is the same array as at the last step (text states) keeps its slice; a
        // new one replaces it, and the old slice, which no executor holds, is closed
        NDArray[] known = memo.get(input.getKey());
        if (known == null || known[0] != value) {
          if (known != null) {
            known[1].close();
          }
          known = new NDArray[] {value, rowsOf(value, members)};
          memo.put(input.getKey(), known);
        }
        inputs.put(input.getKey(), known[1]);
      }
      NDArray out = executors.get(l).run(step, totalSteps, inputs);
      for (int k = 0; k < members.length; k++) {
        NDArray row = out.get(k + ":" + (k + 1));
        byRow[members[k]] = row;
        rowViews.add(row);
      }
    }
    NDArray result = NDArrays.concat(new NDList(byRow), 0);
    rowViews.forEach(NDArray::close);
    return result;
  }

  private static NDArray rowsOf(NDArray value, int[] members) {
    boolean contiguous = true;
    for (int k = 1; k < members.length; k++) {
      contiguous &= members[k] == members[k - 1] + 1;
    }
    if (contiguous) {
      return value.get(members[0] + ":" + (members[members.length - 1] + 1));
    }
    NDList parts = new NDList();
    for (int r : members) {
      parts.add(value.get(r + ":" + (r + 1)));
    }
    NDArray joined = NDArrays.concat(parts, 0);
    parts.close();
    return joined;
  }

  /** Block evaluations run for {@code row}: those of its lane. */
  public long evaluations(int row) {
    return executors.get(laneOfRow[row]).evaluations();
  }

  /** Block evaluations skipped for {@code row}. */
  public long skips(int row) {
    return executors.get(laneOfRow[row]).skips();
  }

  /**
   * Block evaluations per item of a batch of {@code items} whose rows are [unconditional;
   * conditional] with guidance: the mean over each item's rows, rounded.
   */
  public long[] itemEvaluations(int items) {
    return perItem(items, true);
  }

  /** Block evaluations skipped per item, as {@link #itemEvaluations}. */
  public long[] itemSkips(int items) {
    return perItem(items, false);
  }

  private long[] perItem(int items, boolean evaluations) {
    int copies = rows / items;
    long[] counts = new long[items];
    for (int b = 0; b < items; b++) {
      long sum = 0;
      for (int c = 0; c < copies; c++) {
        sum += evaluations ? evaluations(b + c * items) : skips(b + c * items);
      }
      counts[b] = Math.round(sum / (double) copies);
    }
    return counts;
  }

  /** How many lanes the rows were split into. */
  public int lanes() {
    return lanes.size();
  }
}
