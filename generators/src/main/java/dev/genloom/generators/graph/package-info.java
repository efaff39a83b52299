/**
 * The block-graph executor: runs a denoiser's blocks in manifest order over named tensors, and is
 * the single place where a caching policy decides whether a block is computed or reused.
 */
package dev.genloom.generators.graph;
