package dev.genloom.bench;

import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Closed-loop load on a worker: each of C clients sends its next {@code Generate} as soon as its
 * previous one completed, until {@code total} requests are done.
 *
 * @param model the package every request names
 * @param prompt the prompt of every request (seeds differ)
 * @param steps steps per request; 0 for the model's default
 */
public record ClosedLoopLoad(String model, String prompt, int steps) {

  /**
   * Throughput, latency percentiles and the mean batch the worker reported.
   *
   * @param throughput requests per second over the whole load
   * @param p50 median latency, ms
   * @param p99 99th-percentile latency, ms
   * @param meanBatch mean batch size the results report
   */
  public record Result(double throughput, double p50, double p99, double meanBatch) {}

  /** {@code clients} closed-loop clients share {@code total} requests. */
  public Result run(Channel channel, int clients, int total) throws Exception {
    GenerationServiceGrpc.GenerationServiceStub stub = GenerationServiceGrpc.newStub(channel);
    AtomicInteger issued = new AtomicInteger();
    double[] latencies = new double[total];
    long[] batchSum = new long[1];
    List<CompletableFuture<Void>> loops = new ArrayList<>();
    long start = System.nanoTime();
    for (int i = 0; i < clients; i++) {
      CompletableFuture<Void> loop = new CompletableFuture<>();
      loops.add(loop);
      next(stub, issued, total, latencies, batchSum, loop);
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

  private void next(
      GenerationServiceGrpc.GenerationServiceStub stub,
      AtomicInteger issued,
      int total,
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
            .setModel(model)
            .setPrompt(prompt)
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
            next(stub, issued, total, latencies, batchSum, loop);
          }
        });
  }
}
