package dev.genloom.bench;

import dev.genloom.pipelines.GeneratePipeline;
import dev.genloom.pipelines.GeneratePipelineOptions;
import dev.genloom.pipelines.RunCounts;
import dev.genloom.pipelines.testing.RunAudit;
import dev.genloom.proto.RunRecords;
import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.beam.runners.direct.DirectOptions;
import org.apache.beam.runners.direct.DirectRunner;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;

/**
 * The fleet load test on one machine: N worker processes on loopback ports serving latency doubles
 * (a test double that sleeps per step), the real pipeline against them, and a fault schedule that
 * kills workers and starts them again mid-run. Reports items/s, each worker's utilization (its
 * share of batch compute time over the run's wall time, from the manifest) and retries, and audits
 * exactly-once output afterwards with {@link RunAudit}.
 */
public final class FleetBenchmark {
  /** The ways batches can reach workers, each a series of its own. */
  public static final List<String> WORKER_CALLS = List.of("batch", "item");

  /**
   * What to run.
   *
   * @param model the package whose manifest the latency doubles borrow
   * @param fleets fleet sizes, run one after another
   * @param itemsPerWorker items per worker in the fleet
   * @param stepMs the latency double's sleep per step
   * @param steps steps per generation
   * @param maxBatch the worker's and the pipeline's batch size
   * @param faults whether workers are killed and restarted mid-run
   * @param workerCalls the series to run, each one of {@link #WORKER_CALLS}
   */
  public record Settings(
      String model,
      List<Integer> fleets,
      int itemsPerWorker,
      long stepMs,
      int steps,
      int maxBatch,
      boolean faults,
      List<String> workerCalls) {
    public Settings {
      fleets = List.copyOf(fleets);
      workerCalls = List.copyOf(workerCalls);
      if (fleets.isEmpty()
          || fleets.stream().anyMatch(n -> n < 1)
          || itemsPerWorker < 1
          || steps < 1
          || maxBatch < 1
          || stepMs < 0) {
        throw new BenchmarkException(
            "workers, items, steps and max-batch must be >= 1, step-ms >= 0");
      }
      for (String mode : workerCalls) {
        if (!WORKER_CALLS.contains(mode)) {
          throw new BenchmarkException("worker-calls: '" + mode + "' is not batch or item");
        }
      }
    }
  }

  /** One fleet size's measurements. */
  public record Result(
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
  private static long driverCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private final Settings settings;
  private final FleetWorker.Launch launch;
  private final PrintWriter out;
  private final long stepMs;
  private final int steps;
  private final int maxBatch;

  public FleetBenchmark(Settings settings, FleetWorker.Launch launch, PrintWriter out) {
    this.settings = settings;
    this.launch = launch;
    this.out = out;
    this.stepMs = settings.stepMs();
    this.steps = settings.steps();
    this.maxBatch = settings.maxBatch();
  }

  /** Runs every series and fleet size; {@code modelsFolder} holds the borrowed package. */
  public List<Result> run(Path modelsFolder) throws Exception {
    Path pkg = modelsFolder.resolve(settings.model()).toAbsolutePath().normalize();
    if (!Files.isDirectory(pkg)) {
      throw new BenchmarkException(
          "models: the latency double borrows "
              + settings.model()
              + "'s manifest; "
              + pkg
              + " is missing");
    }
    out.printf(
        Locale.ROOT,
        "Fleet benchmark: TEST DOUBLE workers (%d steps x %d ms, batch %d), %d items per worker,"
            + " faults %s, %d cores here%n",
        steps,
        stepMs,
        maxBatch,
        settings.itemsPerWorker(),
        settings.faults() ? "on" : "off",
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
    for (String calls : settings.workerCalls()) {
      Double single = null; // items/s of this mode's one-worker fleet in this run, if it has one
      for (int n : settings.fleets()) {
        Result r = runFleet(calls, n, pkg);
        if (n == 1) {
          single = r.itemsPerSecond();
        }
        r = r.withScaling(single == null ? Double.NaN : r.itemsPerSecond() / single);
        results.add(r);
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
    return results;
  }

  private Result runFleet(String calls, int n, Path pkg) throws Exception {
    Path dir = Files.createTempDirectory("genloom-fleet-");
    Path models = Files.createDirectories(dir.resolve("models"));
    Files.createSymbolicLink(models.resolve(settings.model()), pkg);
    List<FleetWorker> workers = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        workers.add(new FleetWorker(launch, i, freePort(), models, stepMs, maxBatch));
      }
      for (FleetWorker w : workers) {
        w.start();
      }
      for (FleetWorker w : workers) {
        w.awaitReady(300);
      }
      int items = n * settings.itemsPerWorker();
      Path prompts = dir.resolve("prompts.txt");
      StringBuilder lines = new StringBuilder();
      for (int i = 0; i < items; i++) {
        lines.append("fleet benchmark item ").append(i).append('\n');
      }
      Files.writeString(prompts, lines);
      Path grid = dir.resolve("grid.json");
      Files.writeString(
          grid, "{\"models\": [\"" + settings.model() + "\"], \"steps\": [" + steps + "]}");
      Path out = dir.resolve("out");
      // DirectRunner threads: a bundle waits for all its calls in finishBundle, so each thread
      // keeps about one worker's batches in flight; one thread per worker keeps every worker busy
      int parallelism = Math.max(2, n);
      int inFlight = (int) Math.ceil(1.5 * n * maxBatch / parallelism) + maxBatch;
      PipelineOptionsFactory.register(GeneratePipelineOptions.class);
      GeneratePipelineOptions options = PipelineOptionsFactory.as(GeneratePipelineOptions.class);
      DirectOptions direct = options.as(DirectOptions.class);
      options.setRunner(DirectRunner.class);
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
      FaultSchedule schedule = new FaultSchedule(workers, settings.faults(), items / ideal);
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
      long retries = RunCounts.of(result).retries();
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
      TempTree.delete(dir);
    }
  }

  /** Reads the run's outputs: utilization per worker and the exactly-once audit. */
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
      Path out) {
    int n = addresses.size();
    RunAudit audit = RunAudit.of(out);
    List<String> problems = new ArrayList<>(audit.problems(items, items));
    if (audit.deadLetters() > 0) {
      problems.add(audit.deadLetters() + " dead letters");
    }
    Map<String, Double> busyMs = new HashMap<>();
    Map<String, Integer> itemsBy = new TreeMap<>();
    Map<Integer, Integer> batches = new TreeMap<>();
    long batchSum = 0;
    for (RunRecord record : RunRecords.read(out)) {
      if (record.getStatus() == RunRecord.Status.STATUS_OK) {
        int batch = Math.max(1, record.getBatchSize());
        double share = record.getComputeMs() / (double) batch;
        busyMs.merge(record.getWorker(), share, Double::sum);
        itemsBy.merge(record.getWorker(), 1, Integer::sum);
        batches.merge(batch, 1, Integer::sum);
        batchSum += batch;
      }
    }
    int ok = audit.ok();
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
    Map<String, Double> itemShare = new TreeMap<>();
    Map<String, Double> computeShare = new TreeMap<>();
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
        problems.isEmpty(),
        String.join("; ", problems),
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

  /**
   * Once the first item is done, kills two workers (the first, then the middle one) with SIGKILL at
   * 25% and 55% of the run's ideal duration and starts each again one second later on the same
   * port.
   */
  private static final class FaultSchedule {
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
