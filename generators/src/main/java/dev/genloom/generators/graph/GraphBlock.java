package dev.genloom.generators.graph;

import dev.genloom.proto.v1.Block;
import java.util.List;

/**
 * One block of a denoiser graph with the code that computes it.
 *
 * @param name diffusers-style block name
 * @param inputs environment names passed to the block, in order
 * @param outputs environment names bound to its outputs, in order
 * @param cacheable whether a policy may reuse it
 * @param group the residual stack it belongs to, or empty
 * @param runner computes the block
 */
public record GraphBlock(
    String name,
    List<String> inputs,
    List<String> outputs,
    boolean cacheable,
    String group,
    BlockRunner runner) {

  public GraphBlock {
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
    if (outputs.isEmpty()) {
      throw new IllegalArgumentException("block '" + name + "' has no outputs");
    }
  }

  public static GraphBlock of(Block spec, BlockRunner runner) {
    return new GraphBlock(
        spec.getName(),
        spec.getInputsList(),
        spec.getOutputsList(),
        spec.getCacheable(),
        spec.getGroup(),
        runner);
  }

  /** Blocks of a residual stack map their first input to their first output of the same shape. */
  public boolean inResidualStack() {
    return !group.isEmpty();
  }
}
