package dev.genloom.bench;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.genloom.generators.ModelRepository;
import dev.genloom.workers.WorkerOptions;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Serving throughput and latency of one package on a loopback worker under closed-loop load, at
 * each concurrency with dynamic batching off (max batch 1) and on.
 */
public final class WorkerBenchmark {
  /**
   * What to run.
   *
   * @param model the package served
   * @param concurrency concurrent clients, one measurement pair each
   * @param requests requests per measurement (at least 2 per client are sent)
   * @param steps steps per request
   * @param maxBatch batch size when batching is on
   * @param delayMs the batching window
   */
  public record Settings(
      String model,
      List<Integer> concurrency,
      int requests,
      int steps,
      int maxBatch,
      long delayMs) {
    public Settings {
      concurrency = List.copyOf(concurrency);
      if (concurrency.isEmpty() || concurrency.stream().anyMatch(c -> c < 1)) {
        throw new BenchmarkException("concurrency: each must be >= 1, got " + concurrency);
      }
      if (requests < 1 || steps < 1 || maxBatch < 1 || delayMs < 0) {
        throw new BenchmarkException(
            "requests, steps and max-batch must be >= 1 and max-queue-delay-ms >= 0");
      }
    }
  }

  /** One measurement. */
  public record Row(
      int concurrency,
      boolean batching,
      @JsonProperty("images_per_s") double imagesPerSecond,
      @JsonProperty("p50_ms") double p50Ms,
      @JsonProperty("p99_ms") double p99Ms,
      @JsonProperty("mean_batch") double meanBatch) {}

  private final Settings settings;
  private final PrintWriter out;

  public WorkerBenchmark(Settings settings, PrintWriter out) {
    this.settings = settings;
    this.out = out;
  }

  public List<Row> run(ModelRepository repository) throws Exception {
    BenchModels.require(repository, settings.model());
    ClosedLoopLoad load =
        new ClosedLoopLoad(settings.model(), "a red circle on a blue background", settings.steps());
    out.printf(
        Locale.ROOT,
        "== %s serving, DDIM %d steps, %d requests per row ==%n",
        settings.model(),
        settings.steps(),
        settings.requests());
    out.printf(
        Locale.ROOT,
        "  %-11s %-8s %10s %10s %10s %8s%n",
        "concurrency",
        "batching",
        "images/s",
        "p50 ms",
        "p99 ms",
        "batch");
    List<Row> rows = new ArrayList<>();
    for (int c : settings.concurrency()) {
      double[] throughput = new double[2];
      for (int mode = 0; mode < 2; mode++) {
        boolean batching = mode == 1;
        WorkerOptions options =
            WorkerOptions.defaults()
                .withBatching(
                    batching ? settings.maxBatch() : 1,
                    batching ? settings.delayMs() : 0,
                    Math.max(64, 2 * c));
        try (LoopbackWorker worker = LoopbackWorker.start(repository, options)) {
          load.run(worker.channel(), Math.min(c, 4), 2 * Math.min(c, 4)); // warm-up
          ClosedLoopLoad.Result r =
              load.run(worker.channel(), c, Math.max(settings.requests(), 2 * c));
          throughput[mode] = r.throughput();
          rows.add(new Row(c, batching, r.throughput(), r.p50(), r.p99(), r.meanBatch()));
          out.printf(
              Locale.ROOT,
              "  %-11d %-8s %10.2f %10.1f %10.1f %8.2f%n",
              c,
              batching ? "on" : "off",
              r.throughput(),
              r.p50(),
              r.p99(),
              r.meanBatch());
          out.flush();
        }
      }
      out.printf(
          Locale.ROOT,
          "  concurrency %d: batching gives %.2fx the throughput%n",
          c,
          throughput[1] / throughput[0]);
    }
    out.flush();
    return rows;
  }
}
