package dev.genloom.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.workers.WorkerMetrics;
import dev.genloom.workers.WorkerOptions;
import dev.genloom.workers.WorkerServer;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code genloom bench worker}: closed-loop load on a loopback worker. Each of C clients sends its
 * next request as soon as the previous one completes; throughput and latency percentiles are
 * reported with dynamic batching off (max batch 1) and on.
 */
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

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
  Path json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ArrayNode rows = mapper.createArrayNode();
    ModelRepository repository = ModelRepository.scan(modelsOption.folder());
    if (repository.find("tiny-ldm").isEmpty()) {
      throw new UserException("model: the benchmark needs the tiny-ldm package");
    }
    out.printf(
        Locale.ROOT,
        "== tiny-ldm serving, DDIM %d steps, %d requests per row ==%n",
        steps,
        requests);
    out.printf(
        Locale.ROOT,
        "  %-11s %-8s %10s %10s %10s %8s%n",
        "concurrency",
        "batching",
        "images/s",
        "p50 ms",
        "p99 ms",
        "batch");
    for (int c : concurrency) {
      double[] throughput = new double[2];
      for (int mode = 0; mode < 2; mode++) {
        boolean batching = mode == 1;
        WorkerOptions options =
            WorkerOptions.defaults()
                .withBatching(batching ? maxBatch : 1, batching ? delayMs : 0, Math.max(64, 2 * c));
        WorkerServer server =
            WorkerServer.start(
                Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()),
                repository,
                options,
                new WorkerMetrics(),
                List.of());
        ManagedChannel channel = null;
        try {
          server.ready().get(300, TimeUnit.SECONDS);
          channel =
              Grpc.newChannelBuilderForAddress(
                      "127.0.0.1", server.port(), InsecureChannelCredentials.create())
                  .build();
          run(channel, Math.min(c, 4), 2 * Math.min(c, 4), steps); // warm-up
          Result r = run(channel, c, Math.max(requests, 2 * c), steps);
          throughput[mode] = r.throughput();
          ObjectNode row = mapper.createObjectNode();
          row.put("concurrency", c);
          row.put("batching", batching);
          row.put("images_per_s", r.throughput());
          row.put("p50_ms", r.p50());
          row.put("p99_ms", r.p99());
          row.put("mean_batch", r.meanBatch());
          rows.add(row);
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
        } finally {
          if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
          }
          server.drain(30);
        }
      }
      out.printf(
          Locale.ROOT,
          "  concurrency %d: batching gives %.2fx the throughput%n",
          c,
          throughput[1] / throughput[0]);
    }
    if (json != null) {
      Files.writeString(json, mapper.writeValueAsString(rows) + "\n");
    }
    out.flush();
    return 0;
  }

  record Result(double throughput, double p50, double p99, double meanBatch) {}

  /** C closed-loop clients share {@code total} requests. */
  /** {@code steps} per request; 0 means the model's default. */
  static Result run(ManagedChannel channel, int clients, int total, int steps) throws Exception {
    GenerationServiceGrpc.GenerationServiceStub stub = GenerationServiceGrpc.newStub(channel);
    AtomicInteger issued = new AtomicInteger();
    double[] latencies = new double[total];
    long[] batchSum = new long[1];
    List<CompletableFuture<Void>> loops = new ArrayList<>();
    long start = System.nanoTime();
    for (int i = 0; i < clients; i++) {
      CompletableFuture<Void> loop = new CompletableFuture<>();
      loops.add(loop);
      next(stub, issued, total, steps, latencies, batchSum, loop);
    }
    for (CompletableFuture<Void> loop : loops) {
      loop.get(30, TimeUnit.MINUTES);
    }
    double wall = (System.nanoTime() - start) / 1e9;
    double[] sorted = latencies.clone();
    Arrays.sort(sorted);
    return new Result(
        total / wall,
        sorted[(int) Math.floor(0.50 * (total - 1))],
        sorted[(int) Math.ceil(0.99 * (total - 1))],
        batchSum[0] / (double) total);
  }

  private static void next(
      GenerationServiceGrpc.GenerationServiceStub stub,
      AtomicInteger issued,
      int total,
      int steps,
      double[] latencies,
      long[] batchSum,
      CompletableFuture<Void> loop) {
    int index = issued.getAndIncrement();
    if (index >= total) {
      loop.complete(null);
      return;
    }
    long sent = System.nanoTime();
    GenerateRequest request =
        GenerateRequest.newBuilder()
            .setModel("tiny-ldm")
            .setPrompt("a red circle on a blue background")
            .setSeed(index)
            .setSteps(steps)
            .build();
    stub.generate(
        request,
        new StreamObserver<>() {
          @Override
          public void onNext(GenerateEvent event) {
            if (event.hasResult() && event.getResult().hasStats()) {
              synchronized (batchSum) {
                batchSum[0] += event.getResult().getStats().getBatchSize();
              }
            }
          }

          @Override
          public void onError(Throwable t) {
            loop.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            latencies[index] = (System.nanoTime() - sent) / 1e6;
            next(stub, issued, total, steps, latencies, batchSum, loop);
          }
        });
  }
}
