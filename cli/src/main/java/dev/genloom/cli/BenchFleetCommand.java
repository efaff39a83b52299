package dev.genloom.cli;

import dev.genloom.bench.BenchModels;
import dev.genloom.bench.FleetBenchmark;
import dev.genloom.bench.FleetWorker;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code genloom bench fleet}: the options of {@link FleetBenchmark}. */
@Command(
    name = "fleet",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Fleet load test on one machine: N 'genloom bench double-worker' processes on loopback ports serving a"
          + " latency double (TEST DOUBLE: sleeps T ms per step, returns solid images), the real"
          + " Beam pipeline against them, and a fault schedule that SIGKILLs workers and restarts"
          + " them mid-run. Reports items/s, per-worker utilization and retries, and fails unless"
          + " every item was written exactly once."
    })
final class BenchFleetCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(
      names = "--workers",
      paramLabel = "N,...",
      split = ",",
      description = "Fleet sizes to run, one after another (default: ${DEFAULT-VALUE}).",
      defaultValue = "1,4,16,32,64")
  List<Integer> fleets;

  @Option(
      names = "--items",
      paramLabel = "M",
      description = "Items per worker in the fleet (default: ${DEFAULT-VALUE}).",
      defaultValue = "240")
  int itemsPerWorker;

  @Option(
      names = "--step-ms",
      paramLabel = "T",
      description = "Latency double's sleep per step, in ms (default: ${DEFAULT-VALUE}).",
      defaultValue = "25")
  long stepMs;

  @Option(
      names = "--steps",
      paramLabel = "S",
      description = "Steps per generation (default: ${DEFAULT-VALUE}).",
      defaultValue = "20")
  int steps;

  @Option(
      names = "--max-batch",
      paramLabel = "B",
      description = "Worker batch size and pipeline batch size (default: ${DEFAULT-VALUE}).",
      defaultValue = "8")
  int maxBatch;

  @Option(
      names = "--no-faults",
      description = "Run without the fault schedule (by default workers are killed and restarted).")
  boolean noFaults;

  @Option(
      names = "--worker-calls",
      paramLabel = "MODE,...",
      split = ",",
      description =
          "How batches reach workers, each mode a series of its own: batch (GenerateBatch) or"
              + " item (one Generate per item) (default: ${DEFAULT-VALUE}).",
      defaultValue = "batch")
  List<String> workerCalls;

  @Mixin BenchJsonOption json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** Fleet workers are this command line's {@code bench double-worker}, each in its own JVM. */
  static final FleetWorker.Launch LAUNCH =
      new FleetWorker.Launch(Genloom.class.getName(), List.of("bench", "double-worker"));

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    FleetBenchmark.Settings settings =
        new FleetBenchmark.Settings(
            BenchModels.SHIPPED.ldm(),
            fleets,
            itemsPerWorker,
            stepMs,
            steps,
            maxBatch,
            !noFaults,
            workerCalls);
    List<FleetBenchmark.Result> results =
        new FleetBenchmark(settings, LAUNCH, out).run(modelsOption.folder());
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("step_ms", stepMs);
    root.put("steps", steps);
    root.put("max_batch", maxBatch);
    root.put("items_per_worker", itemsPerWorker);
    root.put("faults", !noFaults);
    root.put("cores", Runtime.getRuntime().availableProcessors());
    root.put("runs", results);
    json.write(root, out);
    out.flush();
    return results.stream().allMatch(FleetBenchmark.Result::exactlyOnce) ? 0 : 1;
  }
}
