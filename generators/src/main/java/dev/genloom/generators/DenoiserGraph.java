package dev.genloom.generators;

import dev.genloom.generators.graph.CachePolicy;
import dev.genloom.generators.graph.GraphBlock;
import dev.genloom.generators.graph.GraphExecutor;
import dev.genloom.proto.v1.Block;
import dev.genloom.proto.v1.BlockGraph;
import java.util.ArrayList;
import java.util.List;

/** A package's denoiser: its block list bound to the loaded TorchScript components. */
final class DenoiserGraph {
  private final BlockGraph spec;
  private final List<GraphBlock> blocks;

  DenoiserGraph(BlockGraph spec, LoadedComponents components) {
    if (spec.getBlocksCount() == 0) {
      throw new ModelPackageException(
          components.pkg().root().resolve(ModelPackage.MANIFEST_FILE) + ": denoiser has no blocks");
    }
    this.spec = spec;
    List<GraphBlock> bound = new ArrayList<>();
    for (Block block : spec.getBlocksList()) {
      TorchComponent component = components.get(block.getComponent());
      if (component.spec().getInputsCount() != block.getInputsCount()) {
        throw new ModelPackageException(
            component.file()
                + ": block '"
                + block.getName()
                + "' passes "
                + block.getInputsCount()
                + " inputs but the component declares "
                + component.spec().getInputsCount());
      }
      bound.add(GraphBlock.of(block, component::forward));
    }
    this.blocks = List.copyOf(bound);
  }

  BlockGraph spec() {
    return spec;
  }

  List<GraphBlock> blocks() {
    return blocks;
  }

  GraphExecutor executor(CachePolicy policy, GraphExecutor.BlockObserver observer) {
    return new GraphExecutor(blocks, spec.getOutput(), policy, observer);
  }

  /** An executor for rows with their own policies ({@link CachePolicies#rows}). */
  dev.genloom.generators.graph.LaneExecutor executor(
      List<dev.genloom.generators.graph.LaneExecutor.RowPolicy> rows,
      GraphExecutor.BlockObserver observer) {
    return new dev.genloom.generators.graph.LaneExecutor(blocks, spec.getOutput(), rows, observer);
  }
}
