package dev.genloom.cli;

import dev.genloom.bench.FleetWorker;
import dev.genloom.generators.Generator;
import dev.genloom.generators.ModelPackage;
import dev.genloom.workers.WorkerOptions;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code genloom bench double-worker}: {@code genloom worker} with every option and the same
 * serving, admission and drain, but its packages are latency doubles. The fleet benchmark and the
 * fault tests start it; it never serves a real model.
 */
@Command(
    name = "double-worker",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "TEST DOUBLE for fleet load tests: 'genloom worker' with every one of its options, but no"
          + " model runs. Each package sleeps T ms per step for the whole batch and returns solid"
          + " images. 'genloom bench fleet' starts these; never use one to serve real traffic."
    })
final class BenchDoubleWorkerCommand extends WorkerCommand {
  @Option(
      names = "--step-ms",
      required = true,
      paramLabel = "T",
      description = "Sleep per step, in ms, for the whole batch.")
  long stepMs;

  @Override
  Function<ModelPackage, Generator> opener(WorkerOptions options) {
    if (stepMs < 0) {
      throw new UserException("step-ms: must be >= 0, got " + stepMs);
    }
    spec.commandLine()
        .getOut()
        .printf(
            "TEST DOUBLE: this worker runs no model; every package sleeps %d ms per step and"
                + " returns solid images%n",
            stepMs);
    return FleetWorker.latencyDoubles(stepMs);
  }
}
