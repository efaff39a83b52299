package dev.genloom.generators.graph;

import ai.djl.ndarray.NDList;

/** Computes one block: positional inputs to positional outputs. */
@FunctionalInterface
public interface BlockRunner {
  NDList run(NDList inputs);
}
