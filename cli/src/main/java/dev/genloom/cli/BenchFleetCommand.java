package dev.genloom.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.pipelines.GeneratePipeline;
import dev.genloom.pipelines.GeneratePipelineOptions;
import dev.genloom.proto.ProtoJson;
import dev.genloom.proto.RunLayout;
import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.apache.beam.runners.direct.DirectOptions;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code genloom bench fleet}: the real pipeline against N worker processes on loopback, each
 * serving latency doubles (a test double that sleeps per step), with a fault schedule that kills
 * workers and starts them again mid-run. Reports items/s, each worker's utilization (its share of
 * batch compute time over the run's wall time, from the manifest) and retries, and checks
 * exactly-once output afterwards.
 */
@Command(
    name = "fleet",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Fleet load test on one machine: N 'genloom worker' processes on loopback ports serving a"
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

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
  Path json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** One fleet size's measurements. */
  record Result(
      String workerCalls,
      int workers,
      int items,
      double totalSeconds,
      double seconds,
      double itemsPerSecond,
      double idealItemsPerSecond,
      double meanUtilization,
      double minUtilization,
      long retries,
      int kills,
      boolean exactlyOnce,
      String problem,
      double meanBatch,
      Map<Integer, Integer> batchSizes,
      Map<String, Double> itemShare,
      Map<String, Double> computeShare,
      double driverCoreMsPerItem,
      double driverRunCoreMsPerItem,
      double scaling) {

    Result withScaling(double value) {
      return new Result(
          workerCalls,
          workers,
          items,
          totalSeconds,
          seconds,
          itemsPerSecond,
          idealItemsPerSecond,
          meanUtilization,
          minUtilization,
          retries,
          kills,
          exactlyOnce,
          problem,
          meanBatch,
          batchSizes,
          itemShare,
          computeShare,
          driverCoreMsPerItem,
          driverRunCoreMsPerItem,
          value);
    }
  }

  /** CPU time of this JVM (the driver: the workers are other processes), in nanoseconds. */
  static long driverCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (fleets.stream().anyMatch(n -> n < 1) || itemsPerWorker < 1 || steps < 1 || maxBatch < 1) {
      throw new UserException("workers, items, steps and max-batch must be >= 1");
    }
    for (String mode : workerCalls) {
      if (!mode.equals("batch") && !mode.equals("item")) {
        throw new UserException("--worker-calls: '" + mode + "' is not batch or item");
      }
    }
    Path pkg = modelsOption.folder().resolve("tiny-ldm").toAbsolutePath().normalize();
    if (!Files.isDirectory(pkg)) {
      throw new UserException(
          "models: the latency double borrows tiny-ldm's manifest; " + pkg + " is missing");
    }
    out.printf(
        Locale.ROOT,
        "Fleet benchmark: TEST DOUBLE workers (%d steps x %d ms, batch %d), %d items per worker,"
            + " faults %s, %d cores here%n",
        steps,
        stepMs,
        maxBatch,
        itemsPerWorker,
        noFaults ? "off" : "on",
        Runtime.getRuntime().availableProcessors());
    out.printf(
        Locale.ROOT,
        "%6s %8s %8s %8s %9s %10s %10s %8s %9s %9s %10s %11s %11s %8s %6s  %s%n",
        "calls",
        "workers",
        "items",
        "total s",
        "steady s",
        "items/s",
        "ideal/s",
        "scaling",
        "mean util",
        "min util",
        "mean batch",
        "driver ms/i",
        "run ms/i",
        "retries",
        "kills",
        "exactly once");
    out.flush();
    List<Result> results = new ArrayList<>();
    boolean allOk = true;
    for (String calls : workerCalls) {
      Double single = null; // items/s of this mode's one-worker fleet in this run, if it has one
      for (int n : fleets) {
        Result r = runFleet(calls, n, pkg);
        if (n == 1) {
          single = r.itemsPerSecond();
        }
        r = r.withScaling(single == null ? Double.NaN : r.itemsPerSecond() / single);
        results.add(r);
        allOk &= r.exactlyOnce();
        out.printf(
            Locale.ROOT,
            "%6s %8d %8d %8.1f %9.1f %10.1f %10.1f %7.2fx %8.1f%% %8.1f%% %10.2f %11.2f %11.2f %8d %6d"
                + "  %s%n",
            r.workerCalls(),
            r.workers(),
            r.items(),
            r.totalSeconds(),
            r.seconds(),
            r.itemsPerSecond(),
            r.idealItemsPerSecond(),
            r.scaling(),
            100 * r.meanUtilization(),
            100 * r.minUtilization(),
            r.meanBatch(),
            r.driverCoreMsPerItem(),
            r.driverRunCoreMsPerItem(),
            r.retries(),
            r.kills(),
            r.exactlyOnce() ? "yes" : "NO: " + r.problem());
        out.printf(Locale.ROOT, "%10s batch sizes %s%n", "", r.batchSizes());
        out.flush();
      }
    }
    if (json != null) {
      ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
      ObjectNode root = mapper.createObjectNode();
      root.put("step_ms", stepMs);
      root.put("steps", steps);
      root.put("max_batch", maxBatch);
      root.put("items_per_worker", itemsPerWorker);
      root.put("faults", !noFaults);
      root.put("cores", Runtime.getRuntime().availableProcessors());
      ArrayNode list = root.putArray("runs");
      results.forEach(r -> list.add(mapper.valueToTree(r)));
      Files.writeString(json, mapper.writeValueAsString(root) + "\n");
      out.println("wrote " + json);
    }
    out.flush();
    return allOk ? 0 : 1;
  }

  private Result runFleet(String calls, int n, Path pkg) throws Exception {
    Path dir = Files.createTempDirectory("genloom-fleet-");
    Path models = Files.createDirectories(dir.resolve("models"));
    Files.createSymbolicLink(models.resolve("tiny-ldm"), pkg);
    List<FleetWorker> workers = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        workers.add(new FleetWorker(i, freePort(), models, stepMs, maxBatch));
      }
      for (FleetWorker w : workers) {
        w.start();
      }
      for (FleetWorker w : workers) {
        w.awaitReady(300);
      }
      int items = n * itemsPerWorker;
      Path prompts = dir.resolve("prompts.txt");
      StringBuilder lines = new StringBuilder();
      for (int i = 0; i < items; i++) {
        lines.append("fleet benchmark item ").append(i).append('\n');
      }
      Files.writeString(prompts, lines);
      Path grid = dir.resolve("grid.json");
      Files.writeString(grid, "{\"models\": [\"tiny-ldm\"], \"steps\": [" + steps + "]}");
      Path out = dir.resolve("out");
      // DirectRunner threads: a bundle waits for all its calls in finishBundle, so each thread
      // keeps about one worker's batches in flight; one thread per worker keeps every worker busy
      int parallelism = Math.max(2, n);
      int inFlight = (int) Math.ceil(1.5 * n * maxBatch / parallelism) + maxBatch;
      PipelineOptionsFactory.register(GeneratePipelineOptions.class);
      GeneratePipelineOptions options = PipelineOptionsFactory.as(GeneratePipelineOptions.class);
      DirectOptions direct = options.as(DirectOptions.class);
      options.setRunner(org.apache.beam.runners.direct.DirectRunner.class);
      direct.setTargetParallelism(parallelism);
      direct.setEnforceImmutability(false);
      direct.setEnforceEncodability(false);
      options.setPrompts(prompts.toString());
      options.setGrid(grid.toString());
      options.setOut(out.toString());
      options.setWorkers(String.join(",", workers.stream().map(FleetWorker::address).toList()));
      options.setBatchSize(maxBatch);
      options.setMaxInFlight(inFlight);
      // enough attempts to outlast a worker JVM restarting on a loaded machine (backoff caps at 30
      // s)
      options.setMaxAttempts(16);
      options.setInitialBackoffMillis(100);
      options.setCallDeadlineSeconds(120);
      options.setWorkerCalls(calls);
      double batchSeconds = steps * stepMs / 1000.0;
      double ideal = n * maxBatch / batchSeconds;
      FaultSchedule schedule = new FaultSchedule(workers, !noFaults, items / ideal);
      direct.setBlockOnRun(false);
      long start = System.nanoTime();
      long cpuAtStart = driverCpuNanos();
      PipelineResult result = GeneratePipeline.run(options);
      long[] cpuAtFirst = {0};
      // Throughput is measured from the first finished item (its media file) to the end: building
      // the graph, reading and expanding the prompts come before and do not depend on the fleet.
      PipelineWatch watch =
          PipelineWatch.await(
              result,
              out,
              100,
              () -> {
                cpuAtFirst[0] = driverCpuNanos();
                schedule.start(); // faults strike while busy
              });
      long cpuAtEnd = driverCpuNanos();
      long firstAt = watch.firstMediaNanos();
      long doneAtFirst = firstAt == 0 ? 0 : 1;
      long end = watch.endNanos();
      double seconds = (end - (firstAt == 0 ? start : firstAt)) / 1e9;
      schedule.stop();
      long retries = RunCounts.counter(result, "retries");
      return measure(
          calls,
          workers.stream().map(FleetWorker::address).toList(),
          items,
          (int) doneAtFirst,
          (end - start) / 1e9,
          seconds,
          ideal,
          retries,
          schedule.kills(),
          (cpuAtEnd - cpuAtFirst[0]) / 1e6,
          (cpuAtEnd - cpuAtStart) / 1e6,
          out);
    } finally {
      for (FleetWorker w : workers) {
        w.close();
      }
      deleteTree(dir);
    }
  }

  /** Reads the run's outputs: utilization per worker and the exactly-once checks. */
  private static Result measure(
      String calls,
      List<String> addresses,
      int items,
      int doneAtFirst,
      double totalSeconds,
      double seconds,
      double ideal,
      long retries,
      int kills,
      double driverCpuMs,
      double driverRunCpuMs,
      Path out)
      throws IOException {
    int n = addresses.size();
    List<String> lines = Files.readAllLines(out.resolve(RunLayout.MANIFEST));
    Set<String> ids = new HashSet<>();
    Map<String, Double> busyMs = new HashMap<>();
    String problem = "";
    int ok = 0;
    Map<String, Integer> itemsBy = new java.util.TreeMap<>();
    Map<Integer, Integer> batches = new java.util.TreeMap<>();
    long batchSum = 0;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).isBlank()) {
        continue;
      }
      RunRecord record = ProtoJson.parseRecord(lines.get(i), RunLayout.MANIFEST + ":" + (i + 1));
      if (!ids.add(record.getRequestId())) {
        problem = "duplicate request id " + record.getRequestId();
      }
      if (record.getStatus() == RunRecord.Status.STATUS_OK) {
        ok++;
        int batch = Math.max(1, record.getBatchSize());
        double share = (double) record.getComputeMs() / batch;
        busyMs.merge(record.getWorker(), share, Double::sum);
        itemsBy.merge(record.getWorker(), 1, Integer::sum);
        batches.merge(batch, 1, Integer::sum);
        batchSum += batch;
      }
    }
    long media;
    long temporary;
    try (Stream<Path> files = Files.list(out.resolve("media"))) {
      List<Path> all = files.toList();
      temporary = all.stream().filter(p -> p.getFileName().toString().startsWith(".tmp")).count();
      media = all.size() - temporary;
    }
    long dead =
        Files.readAllLines(out.resolve(RunLayout.DEAD_LETTER)).stream()
            .filter(l -> !l.isBlank())
            .count();
    if (problem.isEmpty() && ids.size() != items) {
      problem = ids.size() + " request ids for " + items + " items";
    } else if (problem.isEmpty() && ok != items) {
      problem = (items - ok) + " items not ok";
    } else if (problem.isEmpty() && media != items) {
      problem = media + " media files for " + items + " items";
    } else if (problem.isEmpty() && temporary > 0) {
      problem = temporary + " temporary files left";
    } else if (problem.isEmpty() && dead > 0) {
      problem = dead + " dead letters";
    }
    // Utilization over the steady part of the run, when the fleet had work.
    double wallMs = seconds * 1000;
    double sum = 0;
    double min = Double.MAX_VALUE;
    for (String address : addresses) {
      double busy = busyMs.getOrDefault(address, 0.0);
      sum += busy / wallMs;
      min = Math.min(min, busy / wallMs);
    }
    double busyTotal = busyMs.values().stream().mapToDouble(Double::doubleValue).sum();
    Map<String, Double> itemShare = new java.util.TreeMap<>();
    Map<String, Double> computeShare = new java.util.TreeMap<>();
    for (String address : addresses) {
      itemShare.put(address, itemsBy.getOrDefault(address, 0) / (double) Math.max(1, ok));
      computeShare.put(address, busyMs.getOrDefault(address, 0.0) / Math.max(1e-9, busyTotal));
    }
    return new Result(
        calls,
        n,
        items,
        totalSeconds,
        seconds,
        (items - doneAtFirst) / seconds,
        ideal,
        sum / n,
        min,
        retries,
        kills,
        problem.isEmpty(),
        problem,
        ok == 0 ? Double.NaN : batchSum / (double) ok,
        batches,
        itemShare,
        computeShare,
        driverCpuMs / Math.max(1, items - doneAtFirst),
        driverRunCpuMs / Math.max(1, items),
        Double.NaN);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * Once the first item is done, kills two workers (the first, then the middle one) with SIGKILL at
   * 25% and 55% of the run's ideal duration and starts each again one second later on the same
   * port.
   */
  static final class FaultSchedule {
    private final List<FleetWorker> workers;
    private final boolean enabled;
    private final double idealSeconds;
    private Thread thread;
    private volatile int kills;

    FaultSchedule(List<FleetWorker> workers, boolean enabled, double idealSeconds) {
      this.workers = workers;
      this.enabled = enabled;
      this.idealSeconds = idealSeconds;
    }

    void start() {
      if (!enabled) {
        return;
      }
      thread =
          new Thread(
              () -> {
                try {
                  long begin = System.nanoTime();
                  int[] victims = {0, workers.size() / 2};
                  double[] at = {0.25, 0.55};
                  for (int k = 0; k < victims.length; k++) {
                    long due = begin + (long) (at[k] * idealSeconds * 1e9);
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                      Thread.sleep(wait / 1_000_000);
                    }
                    FleetWorker victim = workers.get(victims[k]);
                    victim.kill();
                    kills++;
                    Thread.sleep(1000);
                    victim.start();
                  }
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              },
              "fleet-faults");
      thread.setDaemon(true);
      thread.start();
    }

    void stop() throws InterruptedException {
      if (thread != null) {
        thread.join(60_000);
      }
    }

    int kills() {
      return kills;
    }
  }
}
