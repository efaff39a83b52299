package dev.genloom.generators.graph;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs a denoiser's blocks in order over named tensors, step after step of one generation, and
 * counts block evaluations run and skipped.
 *
 * <p>A reused block outside a stack rebinds its cached outputs. A reused block inside a residual
 * stack adds its cached residual ({@code output - input}) to its new input, as FORA reuses
 * attention and MLP outputs. A skipped stack tail adds the tail's cached residual to the first
 * block's output (TeaCache / FirstBlockCache).
 *
 * <p>A graph without residual stacks (a UNet, whose blocks change shape) gives stack policies its
 * cacheable blocks as one stack, {@link #CACHEABLE_STACK}: the first cacheable block always runs
 * and its first output is the indicator; when the policy skips, every later cacheable block rebinds
 * its cached outputs, so the blocks after them see the previous step's features.
 *
 * <p>Memory stays bounded over a generation: at the end of each step every tensor the blocks
 * produced is closed, but for the graph output and the outputs a policy may reuse (kept only for
 * cacheable blocks, and only when the policy reuses anything). A replaced cache entry is closed.
 * Observers and policies get tensors valid for the call only.
 *
 * <p>Not thread-safe: one executor per generation. Cached tensors belong to the NDManager of the
 * tensors the blocks produce; closing that manager after the generation frees the rest.
 */
public final class GraphExecutor {
  private final List<GraphBlock> blocks;
  private final String output;
  private final CachePolicy policy;
  private final BlockObserver observer;
  private final Map<Integer, NDList> cachedOutputs = new HashMap<>();
  private final Map<Integer, NDArray> cachedResiduals = new HashMap<>();
  private final Map<String, NDArray> cachedTails = new HashMap<>();
  private final Map<String, int[]> groupRanges = new HashMap<>();

  /** Per cacheable block, for a forecasting policy: its last computed values, oldest first. */
  private final Map<Integer, java.util.ArrayDeque<Computed>> history = new HashMap<>();

  /** A block's values at a computed step: its residual in a stack, else its outputs. */
  private record Computed(int step, NDList values) {}

  private final int firstCacheable;
  private long evaluations;
  private long skips;

  /** The stack name stack policies see for the cacheable blocks of a graph without stacks. */
  public static final String CACHEABLE_STACK = "cacheable";

  /**
   * Receives every computed block's outputs, e.g. for cache calibration. The outputs are valid only
   * during the call: an observer that needs them later keeps a copy.
   */
  @FunctionalInterface
  public interface BlockObserver {
    void computed(int step, GraphBlock block, NDList outputs);

    BlockObserver NONE = (step, block, outputs) -> {};
  }

  public GraphExecutor(
      List<GraphBlock> blocks, String output, CachePolicy policy, BlockObserver observer) {
    this.blocks = List.copyOf(blocks);
    this.output = output;
    this.policy = policy;
    this.observer = observer;
    for (int i = 0; i < this.blocks.size(); i++) {
      String group = this.blocks.get(i).group();
      if (!group.isEmpty()) {
        int index = i;
        groupRanges.merge(group, new int[] {i, i}, (a, b) -> new int[] {a[0], index});
      }
    }
    int first = -1;
    if (groupRanges.isEmpty()) {
      for (int i = 0; i < this.blocks.size() && first < 0; i++) {
        if (this.blocks.get(i).cacheable()) {
          first = i;
        }
      }
    }
    this.firstCacheable = first;
  }

  /** Runs every block once for {@code step} on the graph inputs; returns the graph output. */
  public NDArray run(int step, int totalSteps, Map<String, NDArray> graphInputs) {
    Map<String, NDArray> env = new HashMap<>(graphInputs);
    List<NDArray> produced = new ArrayList<>();
    boolean caching = policy.reuses();
    String skippingGroup = null;
    boolean skippingCacheable = false;
    Map<String, NDArray> stackStarts = new HashMap<>();
    for (int i = 0; i < blocks.size(); i++) {
      GraphBlock block = blocks.get(i);
      if (skippingCacheable && block.cacheable()) {
        skips++;
        bind(env, block, cachedOutputs.get(i));
        continue;
      }
      int[] range = block.group().isEmpty() ? null : groupRanges.get(block.group());
      if (skippingGroup != null && block.group().equals(skippingGroup)) {
        skips++;
        if (i == range[1]) {
          NDArray start = stackStarts.get(skippingGroup);
          NDArray tail = start.add(cachedTails.get(skippingGroup));
          produced.add(tail);
          env.put(block.outputs().get(0), tail);
          skippingGroup = null;
        }
        continue;
      }
      NDList inputs = gather(env, block);
      boolean first = step == 0 || !cachedOutputs.containsKey(i);
      boolean compute =
          first || !block.cacheable() || policy.computeBlock(step, totalSteps, i, block);
      NDList outputs;
      if (compute) {
        outputs = block.runner().run(inputs);
        if (outputs.size() != block.outputs().size()) {
          throw new IllegalStateException(
              "block '"
                  + block.name()
                  + "' returned "
                  + outputs.size()
                  + " outputs, the manifest lists "
                  + block.outputs().size());
        }
        evaluations++;
        produced.addAll(outputs);
        observer.computed(step, block, outputs);
        if (caching && block.cacheable()) {
          close(cachedOutputs.put(i, outputs));
          if (block.inResidualStack()) {
            close(cachedResiduals.put(i, outputs.get(0).sub(inputs.get(0))));
          }
          if (policy.forecastOrder() > 0) {
            remember(
                i, step, block.inResidualStack() ? new NDList(cachedResiduals.get(i)) : outputs);
          }
        }
      } else {
        skips++;
        NDList forecast = policy.forecastOrder() > 0 ? forecast(i, step) : null;
        if (forecast != null) {
          produced.addAll(forecast);
        }
        if (block.inResidualStack()) {
          NDArray residual = forecast != null ? forecast.get(0) : cachedResiduals.get(i);
          NDArray reused = inputs.get(0).add(residual);
          produced.add(reused);
          outputs = new NDList(reused);
        } else {
          outputs = forecast != null ? forecast : cachedOutputs.get(i);
        }
      }
      bind(env, block, outputs);
      if (i == firstCacheable && compute && caching) {
        skippingCacheable =
            policy.skipStackTail(step, totalSteps, CACHEABLE_STACK, outputs.get(0)) && allCached();
      }
      if (range != null && range[0] != range[1]) {
        if (i == range[0]) {
          stackStarts.put(block.group(), outputs.get(0));
        }
        if (i == range[0] && compute) {
          NDArray residual = outputs.get(0).sub(inputs.get(0));
          boolean skip = policy.skipStackTail(step, totalSteps, block.group(), residual);
          residual.close();
          if (skip && cachedTails.containsKey(block.group())) {
            skippingGroup = block.group();
          }
        } else if (i == range[1] && caching) {
          close(cachedTails.put(block.group(), outputs.get(0).sub(stackStarts.get(block.group()))));
        }
      }
    }
    NDArray result = env.get(output);
    if (result == null) {
      throw new IllegalStateException("no block produced the graph output '" + output + "'");
    }
    release(produced, result, graphInputs.values());
    return result;
  }

  /** Keeps copies of block {@code i}'s values at {@code step}, the last order + 1 of them. */
  private void remember(int i, int step, NDList values) {
    java.util.ArrayDeque<Computed> past =
        history.computeIfAbsent(i, k -> new java.util.ArrayDeque<>());
    NDList copies = new NDList();
    for (NDArray v : values) {
      copies.add(v.duplicate());
    }
    past.addLast(new Computed(step, copies));
    while (past.size() > policy.forecastOrder() + 1) {
      past.removeFirst().values().close();
    }
  }

  /**
   * Block {@code i}'s values extrapolated to {@code step} by Newton's divided differences over its
   * last computed steps (as many as the order allows); null with one computed step (reuse).
   */
  private NDList forecast(int i, int step) {
    java.util.ArrayDeque<Computed> past = history.get(i);
    if (past == null || past.size() < 2) {
      return null;
    }
    List<Computed> points = new ArrayList<>(past);
    int n = points.size();
    Computed last = points.get(n - 1);
    Computed prev = points.get(n - 2);
    NDList result = new NDList();
    for (int k = 0; k < last.values().size(); k++) {
      NDArray f2 = last.values().get(k);
      NDArray f1 = prev.values().get(k);
      double h1 = last.step() - prev.step();
      double dt = step - last.step();
      // f(t) = f2 + (t - t2) D1 [+ (t - t2)(t - t1) D2]
      NDArray d1 = f2.sub(f1).div(h1);
      NDArray value = f2.add(d1.mul(dt));
      if (n >= 3) {
        Computed first = points.get(n - 3);
        NDArray f0 = first.values().get(k);
        double h0 = prev.step() - first.step();
        NDArray d0 = f1.sub(f0).div(h0);
        NDArray d2 = d1.sub(d0).div(last.step() - first.step());
        NDArray term = d2.mul(dt * (step - prev.step()));
        NDArray sum = value.add(term);
        value.close();
        value = sum;
        d0.close();
        d2.close();
        term.close();
      }
      d1.close();
      result.add(value);
    }
    return result;
  }

  /** Closes this step's tensors that neither the caller, the caches nor a policy still hold. */
  private void release(
      List<NDArray> produced, NDArray result, java.util.Collection<NDArray> graphInputs) {
    Set<NDArray> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    kept.add(result);
    kept.addAll(graphInputs);
    cachedOutputs.values().forEach(kept::addAll);
    for (NDArray array : produced) {
      if (kept.add(array)) {
        array.close();
      }
    }
  }

  private static void close(NDList replaced) {
    if (replaced != null) {
      replaced.close();
    }
  }

  private static void close(NDArray replaced) {
    if (replaced != null) {
      replaced.close();
    }
  }

  /** Whether every cacheable block has outputs from an earlier step. */
  private boolean allCached() {
    for (int i = 0; i < blocks.size(); i++) {
      if (blocks.get(i).cacheable() && !cachedOutputs.containsKey(i)) {
        return false;
      }
    }
    return true;
  }

  private static NDList gather(Map<String, NDArray> env, GraphBlock block) {
    List<NDArray> inputs = new ArrayList<>(block.inputs().size());
    for (String name : block.inputs()) {
      NDArray value = env.get(name);
      if (value == null) {
        throw new IllegalStateException(
            "block '" + block.name() + "' needs '" + name + "', which nothing produced before it");
      }
      inputs.add(value);
    }
    return new NDList(inputs);
  }

  private static void bind(Map<String, NDArray> env, GraphBlock block, NDList outputs) {
    for (int k = 0; k < outputs.size(); k++) {
      env.put(block.outputs().get(k), outputs.get(k));
    }
  }

  public long evaluations() {
    return evaluations;
  }

  public long skips() {
    return skips;
  }

  public String policy() {
    return policy.describe();
  }
}
