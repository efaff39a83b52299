package dev.genloom.workers;

import com.sun.net.httpserver.HttpServer;
import dev.genloom.generators.Generator;
import dev.genloom.generators.ProcessMemory;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The worker's Prometheus metrics: requests by status; queue time, compute time and batch-size
 * histograms; block evaluations run and skipped; loaded models and queue depth. Rendered in the
 * Prometheus text exposition format.
 */
public final class WorkerMetrics {
  private static final double[] SECONDS_BUCKETS = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
  };
  private static final double[] BATCH_BUCKETS = {1, 2, 4, 8, 16, 32, 64};

  private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
  private final Histogram queueSeconds = new Histogram(SECONDS_BUCKETS);
  private final Histogram computeSeconds = new Histogram(SECONDS_BUCKETS);
  private final Histogram batchSize = new Histogram(BATCH_BUCKETS);
  private final LongAdder blockEvals = new LongAdder();
  private final LongAdder blockSkips = new LongAdder();
  private final AtomicLong modelsLoaded = new AtomicLong();
  private final AtomicLong queueDepth = new AtomicLong();
  private volatile Map<String, Generator> models = Map.of();
  private volatile Map<String, Long> weightBytes = Map.of();

  /** A cumulative histogram. */
  static final class Histogram {
    private final double[] bounds;
    private final LongAdder[] counts;
    private final LongAdder count = new LongAdder();
    private final java.util.concurrent.atomic.DoubleAdder sum =
        new java.util.concurrent.atomic.DoubleAdder();

    Histogram(double[] bounds) {
      this.bounds = bounds;
      this.counts = new LongAdder[bounds.length];
      for (int i = 0; i < bounds.length; i++) {
        counts[i] = new LongAdder();
      }
    }

    void observe(double value) {
      for (int i = 0; i < bounds.length; i++) {
        if (value <= bounds[i]) {
          counts[i].increment();
        }
      }
      count.increment();
      sum.add(value);
    }

    void render(StringBuilder out, String name, String help) {
      out.append("# HELP ").append(name).append(' ').append(help).append('\n');
      out.append("# TYPE ").append(name).append(" histogram\n");
      for (int i = 0; i < bounds.length; i++) {
        out.append(name)
            .append("_bucket{le=\"")
            .append(format(bounds[i]))
            .append("\"} ")
            .append(counts[i].sum())
            .append('\n');
      }
      out.append(name).append("_bucket{le=\"+Inf\"} ").append(count.sum()).append('\n');
      out.append(name).append("_sum ").append(format(sum.sum())).append('\n');
      out.append(name).append("_count ").append(count.sum()).append('\n');
    }
  }

  void request(String status) {
    requests.computeIfAbsent(status, k -> new LongAdder()).increment();
    synchronized (this) {
      notifyAll();
    }
  }

  /** Generate calls that ended with {@code status} ("ok", "invalid_argument", ...). */
  public long requests(String status) {
    LongAdder adder = requests.get(status);
    return adder == null ? 0 : adder.sum();
  }

  /** Waits until {@code count} calls ended with {@code status}; false on timeout. */
  public synchronized boolean awaitRequests(String status, long count, long timeoutMillis)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
    while (requests(status) < count) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  void queued(long nanos) {
    queueSeconds.observe(nanos / 1e9);
  }

  void batch(int size, long computeNanos) {
    batchSize.observe(size);
    computeSeconds.observe(computeNanos / 1e9);
  }

  void blocks(long evals, long skips) {
    blockEvals.add(evals);
    blockSkips.add(skips);
  }

  void modelsLoaded(int n) {
    modelsLoaded.set(n);
  }

  void queueDepth(int n) {
    queueDepth.set(n);
  }

  /** The served generators, whose resident memory is reported, and their weight file bytes. */
  void models(Map<String, Generator> generators, Map<String, Long> weights) {
    this.models = Map.copyOf(generators);
    this.weightBytes = Map.copyOf(weights);
  }

  /** The exposition text. */
  public String render() {
    StringBuilder out = new StringBuilder();
    out.append("# HELP genloom_requests_total Generate calls by final status.\n");
    out.append("# TYPE genloom_requests_total counter\n");
    new TreeMap<>(requests)
        .forEach(
            (status, n) ->
                out.append("genloom_requests_total{status=\"")
                    .append(status)
                    .append("\"} ")
                    .append(n.sum())
                    .append('\n'));
    queueSeconds.render(
        out, "genloom_queue_seconds", "Time requests waited before their batch started.");
    computeSeconds.render(out, "genloom_compute_seconds", "Wall time of batched generations.");
    batchSize.render(out, "genloom_batch_size", "Requests per batched generation.");
    gauge(
        out,
        "genloom_block_evaluations_total",
        "counter",
        "Denoiser block evaluations run.",
        blockEvals.sum());
    gauge(
        out,
        "genloom_block_skips_total",
        "counter",
        "Denoiser block evaluations skipped by caching.",
        blockSkips.sum());
    gauge(out, "genloom_models_loaded", "gauge", "Model packages loaded.", modelsLoaded.get());
    gauge(out, "genloom_queue_depth", "gauge", "Requests waiting for a batch.", queueDepth.get());
    ProcessMemory.residentBytes()
        .ifPresent(
            rss ->
                gauge(
                    out,
                    "genloom_process_resident_bytes",
                    "gauge",
                    "Resident memory of the worker process.",
                    rss));
    Map<String, Generator> served = new TreeMap<>(models);
    if (!served.isEmpty()) {
      out.append(
          "# HELP genloom_model_resident_bytes Resident memory each model's loaded components"
              + " added to the worker (0 until a request loads them).\n");
      out.append("# TYPE genloom_model_resident_bytes gauge\n");
      served.forEach(
          (name, g) ->
              out.append("genloom_model_resident_bytes{model=\"")
                  .append(name)
                  .append("\"} ")
                  .append(g.residentBytes())
                  .append('\n'));
      out.append(
          "# HELP genloom_model_weight_bytes Bytes of each model's component files, what the"
              + " memory limit counts.\n");
      out.append("# TYPE genloom_model_weight_bytes gauge\n");
      new TreeMap<>(weightBytes)
          .forEach(
              (name, b) ->
                  out.append("genloom_model_weight_bytes{model=\"")
                      .append(name)
                      .append("\"} ")
                      .append(b)
                      .append('\n'));
    }
    return out.toString();
  }

  private static void gauge(StringBuilder out, String name, String type, String help, long value) {
    out.append("# HELP ").append(name).append(' ').append(help).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    out.append(name).append(' ').append(value).append('\n');
  }

  private static String format(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15
        ? Long.toString((long) v)
        : String.format(Locale.ROOT, "%s", v);
  }

  /** Serves {@code /metrics} on {@code port} (0 picks a free port). */
  public HttpServer serve(String host, int port) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 0);
    server.createContext(
        "/metrics",
        exchange -> {
          byte[] body = render().getBytes(StandardCharsets.UTF_8);
          exchange
              .getResponseHeaders()
              .set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream os = exchange.getResponseBody()) {
            os.write(body);
          }
        });
    server.setExecutor(
        java.util.concurrent.Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "genloom-metrics");
              t.setDaemon(true);
              return t;
            }));
    server.start();
    return server;
  }
}
