/**
 * Model packages turned into media through DJL TorchScript: package loading, the block-graph
 * executor, samplers, block caching and autoregressive decoding.
 */
package dev.genloom.generators;
