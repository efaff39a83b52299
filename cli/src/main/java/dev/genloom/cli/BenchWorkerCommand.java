package dev.genloom.cli;

import dev.genloom.bench.BenchModels;
import dev.genloom.bench.WorkerBenchmark;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code genloom bench worker}: the options of {@link WorkerBenchmark}. */
@Command(
    name = "worker",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Serving benchmark for tiny-ldm over a loopback gRPC socket: throughput and p50/p99 latency"
          + " at each concurrency, with dynamic batching off (max batch 1) and on."
    })
final class BenchWorkerCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(
      names = "--concurrency",
      split = ",",
      paramLabel = "C,...",
      description = "Concurrent clients (default: ${DEFAULT-VALUE}).",
      defaultValue = "1,8,32")
  List<Integer> concurrency;

  @Option(
      names = "--requests",
      paramLabel = "N",
      description = "Requests per measurement, at least 2 per client (default: ${DEFAULT-VALUE}).",
      defaultValue = "96")
  int requests;

  @Option(
      names = "--steps",
      paramLabel = "N",
      description = "DDIM steps per request (default: ${DEFAULT-VALUE}).",
      defaultValue = "50")
  int steps;

  @Option(
      names = "--max-batch",
      paramLabel = "N",
      description = "Batch size when batching is on (default: ${DEFAULT-VALUE}).",
      defaultValue = "32")
  int maxBatch;

  @Option(
      names = "--max-queue-delay-ms",
      paramLabel = "MS",
      description = "Batching window (default: ${DEFAULT-VALUE}).",
      defaultValue = "20")
  long delayMs;

  @Mixin BenchJsonOption json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    WorkerBenchmark.Settings settings =
        new WorkerBenchmark.Settings(
            BenchModels.SHIPPED.ldm(), concurrency, requests, steps, maxBatch, delayMs);
    List<WorkerBenchmark.Row> rows =
        new WorkerBenchmark(settings, out).run(modelsOption.repository());
    json.write(rows, out);
    out.flush();
    return 0;
  }
}
