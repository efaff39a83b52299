package dev.genloom.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/** {@code genloom bench}: benchmarks whose results go to docs/benchmarks.md. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    subcommands = {
      BenchGeneratorsCommand.class,
      BenchWorkerCommand.class,
      BenchCommand.Pipeline.class,
      BenchFleetCommand.class
    },
    description = {
      "Benchmarks, run side by side in one process and reported as medians and ratios:",
      "  generators  tiny-ldm throughput, block caching vs fewer steps, DiT caching, Token-Shuffle",
      "  worker      tiny-ldm serving throughput and p50/p99 latency, batching off and on",
      "  pipeline    pipeline vs direct worker throughput (not available yet)",
      "  fleet       N worker processes (latency double), the real pipeline, kills and restarts"
    })
final class BenchCommand implements Runnable {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(
      name = "pipeline",
      mixinStandardHelpOptions = true,
      description = "Pipeline against direct worker benchmark. (Not available yet.)")
  static final class Pipeline implements Callable<Integer> {
    @Unmatched java.util.List<String> ignored;

    @Override
    public Integer call() {
      throw new UserException(
          "'genloom bench pipeline' is not available yet in this build of Genloom.",
          NotYetAvailable.EXIT_NOT_AVAILABLE);
    }
  }
}
