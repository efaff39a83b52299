package dev.genloom.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.bench.FleetWorker;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real worker process receives SIGTERM while a generation is in flight: the generation still
 * delivers its result, new work is refused, and the process exits.
 */
class WorkerSigtermTest {
  @Test
  void sigtermDrainsInFlightWorkThenExits(@TempDir Path temp) throws Exception {
    Path models = Files.createDirectories(temp.resolve("models"));
    Files.createSymbolicLink(
        models.resolve("tiny-ldm"),
        Path.of("..", "models", "tiny-ldm").toAbsolutePath().normalize());
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    // A latency double: 10 steps of 300 ms keep the call in flight long enough to signal.
    FleetWorker worker = new FleetWorker(BenchFleetCommand.LAUNCH, 0, port, models, 300, 4, 30);
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create())
            .build();
    try {
      worker.start();
      worker.awaitReady(120);
      CountDownLatch firstStep = new CountDownLatch(1);
      CompletableFuture<GenerateEvent> result = new CompletableFuture<>();
      GenerationServiceGrpc.newStub(channel)
          .generate(
              GenerateRequest.newBuilder()
                  .setModel("tiny-ldm")
                  .setPrompt("a red circle on a blue background")
                  .setSteps(10)
                  .setSeed(3)
                  .build(),
              new StreamObserver<>() {
                @Override
                public void onNext(GenerateEvent event) {
                  if (event.hasProgress()) {
                    firstStep.countDown();
                  }
                  if (event.hasResult()) {
                    result.complete(event);
                  }
                }

                @Override
                public void onError(Throwable t) {
                  result.completeExceptionally(t);
                }

                @Override
                public void onCompleted() {
                  result.completeExceptionally(new AssertionError("completed without a result"));
                }
              });
      assertTrue(firstStep.await(60, TimeUnit.SECONDS), "the generation started");
      worker.terminate();

      // Draining: health leaves SERVING and new calls are refused, while the first call runs on.
      HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
      boolean draining = false;
      for (int attempt = 0; attempt < 200 && !draining; attempt++) {
        try {
          HealthCheckResponse response =
              health
                  .withDeadlineAfter(2, TimeUnit.SECONDS)
                  .check(HealthCheckRequest.getDefaultInstance());
          draining = response.getStatus() != HealthCheckResponse.ServingStatus.SERVING;
        } catch (StatusRuntimeException e) {
          draining = true; // the listener is already closed
        }
      }
      assertTrue(draining, "health left SERVING after SIGTERM");
      StatusRuntimeException refused =
          org.junit.jupiter.api.Assertions.assertThrows(
              StatusRuntimeException.class,
              () ->
                  GenerationServiceGrpc.newBlockingStub(channel)
                      .withDeadlineAfter(10, TimeUnit.SECONDS)
                      .generate(
                          GenerateRequest.newBuilder()
                              .setModel("tiny-ldm")
                              .setPrompt("a blue square on a red background")
                              .setSteps(2)
                              .build())
                      .forEachRemaining(e -> {}));
      assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode(), refused.toString());

      GenerateEvent done = result.get(60, TimeUnit.SECONDS);
      assertTrue(done.getResult().getMedia(0).getData().size() > 0, "the in-flight result arrived");
      int exit = worker.awaitExit(60);
      assertNotEquals(-1, exit, "the worker exited after draining");
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      worker.close();
    }
  }
}
