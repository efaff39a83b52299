package dev.genloom.cli;

import picocli.CommandLine.Command;

/** {@code genloom bench}: benchmarks whose results go to docs/benchmarks.md. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    subcommands = {
      BenchGeneratorsCommand.class,
      BenchWorkerCommand.class,
      BenchPipelineCommand.class,
      BenchFleetCommand.class,
      BenchImageCommand.class,
      BenchCacheCommand.class,
      BenchCalibrationCommand.class,
      BenchDoubleWorkerCommand.class
    },
    description = {
      "Benchmarks, run side by side in one process and reported as medians and ratios:",
      "  generators  tiny-ldm throughput, block caching vs fewer steps, DiT caching, Token-Shuffle",
      "  worker      tiny-ldm serving throughput and p50/p99 latency, batching off and on",
      "  pipeline    items/s through the pipeline vs the same worker driven directly",
      "  fleet       N worker processes (latency double), the real pipeline, kills and restarts",
      "  image       seconds per image and peak memory of one package at one size",
      "  cache       block caching policies on one package: skips, speedup, PSNR vs uncached",
      "  calibration a package's stored calibration table against fresh prompts",
      "  double-worker  a worker serving latency doubles (TEST DOUBLE), for 'fleet'"
    })
final class BenchCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}
