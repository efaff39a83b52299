package dev.genloom.generators;

import dev.genloom.generators.graph.GraphExecutor;
import java.util.List;

/** A diffusion generator whose denoiser blocks can be observed for block-caching calibration. */
public interface Calibratable extends Generator {
  /** Runs the batch without caching, reporting every computed block to {@code observer}. */
  void observeUncached(List<GenerationSpec> batch, GraphExecutor.BlockObserver observer);
}
