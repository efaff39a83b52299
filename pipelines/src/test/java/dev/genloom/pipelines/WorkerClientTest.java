package dev.genloom.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import com.google.protobuf.ByteString;
import dev.genloom.proto.v1.Failure;
import dev.genloom.proto.v1.GenerateBatchRequest;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.GenerationStats;
import dev.genloom.proto.v1.Media;
import dev.genloom.proto.v1.Queued;
import dev.genloom.proto.v1.Result;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The worker client against small real gRPC services in process, with a recording sleeper. */
class WorkerClientTest {
  @RegisterExtension final InProcessWorkers fleet = new InProcessWorkers();

  private final ExecutorService executor = Executors.newFixedThreadPool(4);
  private final List<Long> slept = Collections.synchronizedList(new ArrayList<>());
  // the longest wait each backoff may draw, so the recorded sleeps are the policy's caps
  private final RetryPolicy retry = RetryPolicy.of(4, 100).with(cap -> cap);

  @AfterEach
  void stopCallThreads() {
    executor.shutdownNow();
  }

  /**
   * A worker that answers from a script: the statuses its next Generate calls fail with, the
   * failure event a GenerateBatch call sends per request id, and results in two chunks. It keeps
   * the request ids of every call it got.
   */
  static class ScriptedWorker extends GenerationServiceGrpc.GenerationServiceImplBase {
    final ConcurrentLinkedDeque<Status> generateFailures = new ConcurrentLinkedDeque<>();
    final Map<String, Status> batchFailures = new ConcurrentHashMap<>();
    final List<String> generateCalls = Collections.synchronizedList(new ArrayList<>());
    final List<List<String>> batchCalls = Collections.synchronizedList(new ArrayList<>());

    @Override
    public void generate(GenerateRequest request, StreamObserver<GenerateEvent> events) {
      generateCalls.add(request.getRequestId());
      Status failure = generateFailures.poll();
      if (failure != null) {
        events.onError(failure.asRuntimeException());
        return;
      }
      events.onNext(queued(request.getRequestId(), 3));
      sendResult(request, 1, events);
      events.onCompleted();
    }

    @Override
    public void generateBatch(GenerateBatchRequest batch, StreamObserver<GenerateEvent> events) {
      batchCalls.add(batch.getRequestsList().stream().map(GenerateRequest::getRequestId).toList());
      for (GenerateRequest request : batch.getRequestsList()) {
        events.onNext(queued(request.getRequestId(), 0));
      }
      for (GenerateRequest request : batch.getRequestsList()) {
        Status failure = batchFailures.get(request.getRequestId());
        if (failure == null) {
          sendResult(request, batch.getRequestsCount(), events);
        } else {
          events.onNext(
              GenerateEvent.newBuilder()
                  .setRequestId(request.getRequestId())
                  .setFailure(
                      Failure.newBuilder()
                          .setCode(failure.getCode().value())
                          .setMessage(failure.getDescription()))
                  .build());
        }
      }
      events.onCompleted();
    }
  }

  /**
   * A worker from before GenerateBatch: it answers that method UNIMPLEMENTED, as gRPC's generated
   * base class does for a method a service leaves out, and counts the calls.
   */
  static final class OlderWorker extends ScriptedWorker {
    @Override
    public void generateBatch(GenerateBatchRequest batch, StreamObserver<GenerateEvent> events) {
      batchCalls.add(batch.getRequestsList().stream().map(GenerateRequest::getRequestId).toList());
      ServerCalls.asyncUnimplementedUnaryCall(
          GenerationServiceGrpc.getGenerateBatchMethod(), events);
    }
  }

  private static GenerateEvent queued(String requestId, int position) {
    return GenerateEvent.newBuilder()
        .setRequestId(requestId)
        .setQueued(Queued.newBuilder().setPosition(position))
        .build();
  }

  /** The media bytes a scripted worker makes for {@code requestId}. */
  static ByteString png(String requestId) {
    return ByteString.copyFrom("png of " + requestId, StandardCharsets.UTF_8);
  }

  /** The result in two chunks, the first with half the bytes. */
  private static void sendResult(
      GenerateRequest request, int batchSize, StreamObserver<GenerateEvent> events) {
    ByteString data = png(request.getRequestId());
    int half = data.size() / 2;
    for (int chunk = 0; chunk < 2; chunk++) {
      Media.Builder media =
          Media.newBuilder()
              .setData(chunk == 0 ? data.substring(0, half) : data.substring(half))
              .setMimeType("image/png")
              .setWidth(8)
              .setHeight(8);
      events.onNext(
          GenerateEvent.newBuilder()
              .setRequestId(request.getRequestId())
              .setResult(
                  Result.newBuilder()
                      .addMedia(media)
                      .setStats(GenerationStats.newBuilder().setBatchSize(batchSize))
                      .setChunkIndex(chunk)
                      .setChunkCount(2))
              .build());
    }
  }

  private static List<GenerateRequest> requests(String... ids) {
    List<GenerateRequest> out = new ArrayList<>();
    for (String id : ids) {
      out.add(GenerateRequest.newBuilder().setRequestId(id).setModel("tiny-ldm").build());
    }
    return out;
  }

  private WorkerClient client(WorkerPool pool, boolean batchCalls) {
    return new WorkerClient(
        pool, new WorkerClient.CallSettings(null, 30, batchCalls), retry, slept::add, executor);
  }

  private WorkerPool pool(ScriptedWorker... workers) throws Exception {
    List<String> names = new ArrayList<>();
    List<Channel> channels = new ArrayList<>();
    for (int i = 0; i < workers.length; i++) {
      names.add("worker-" + i);
      channels.add(fleet.start(workers[i]));
    }
    return WorkerPool.over(names, channels);
  }

  private static List<WorkerClient.Reply> await(List<CompletableFuture<WorkerClient.Reply>> replies)
      throws Exception {
    List<WorkerClient.Reply> out = new ArrayList<>();
    for (CompletableFuture<WorkerClient.Reply> reply : replies) {
      out.add(reply.get(30, TimeUnit.SECONDS));
    }
    return out;
  }

  private static WorkerClient.Generated generated(WorkerClient.Reply reply, String requestId) {
    WorkerClient.Generated generated = assertInstanceOf(WorkerClient.Generated.class, reply);
    assertEquals(png(requestId), generated.result().getMedia(0).getData(), "chunks joined");
    assertEquals(1, generated.result().getMediaCount());
    return generated;
  }

  @Test
  void aGroupIsOneGenerateBatchCallAndEachChunkedResultIsJoined() throws Exception {
    ScriptedWorker worker = new ScriptedWorker();
    WorkerPool pool = pool(worker);
    List<WorkerClient.Reply> replies = await(client(pool, true).generate(requests("a", "b", "c")));
    List<String> ids = List.of("a", "b", "c");
    for (int i = 0; i < ids.size(); i++) {
      WorkerClient.Generated reply = generated(replies.get(i), ids.get(i));
      assertEquals("worker-0", reply.worker());
      assertEquals(0, reply.retries());
      assertEquals(3, reply.result().getStats().getBatchSize());
    }
    assertEquals(List.of(ids), worker.batchCalls);
    assertEquals(List.of(), worker.generateCalls);
    assertEquals(0, pool.outstanding(0), "every call ended");
    assertEquals(List.of(), slept);
  }

  @Test
  void unavailableIsRetriedAfterThePolicysBackoffsWithoutARealSleep() throws Exception {
    ScriptedWorker worker = new ScriptedWorker();
    worker.generateFailures.add(Status.UNAVAILABLE.withDescription("draining"));
    worker.generateFailures.add(Status.UNAVAILABLE.withDescription("draining"));
    WorkerPool pool = pool(worker);
    WorkerClient.Reply reply = await(client(pool, false).generate(requests("a"))).get(0);
    assertEquals(2, generated(reply, "a").retries());
    assertEquals(List.of("a", "a", "a"), worker.generateCalls);
    assertEquals(List.of(100L, 200L), slept, "initial backoff, then doubled");
    assertEquals(0, pool.outstanding(0));
  }

  @Test
  void aRetryableFailureInABatchSendsThatItemAloneWhileTheOthersGoOn() throws Exception {
    ScriptedWorker worker = new ScriptedWorker();
    worker.batchFailures.put("b", Status.RESOURCE_EXHAUSTED.withDescription("queue full"));
    WorkerPool pool = pool(worker);
    List<WorkerClient.Reply> replies = await(client(pool, true).generate(requests("a", "b", "c")));
    assertEquals(0, generated(replies.get(0), "a").retries());
    assertEquals(1, generated(replies.get(1), "b").retries());
    assertEquals(0, generated(replies.get(2), "c").retries());
    assertEquals(List.of(List.of("a", "b", "c")), worker.batchCalls);
    assertEquals(List.of("b"), worker.generateCalls, "the retry is a Generate call of its own");
    assertEquals(List.of(100L), slept);
    assertEquals(0, pool.outstanding(0));
  }

  @Test
  void aWorkerThatStaysUnavailableIsGivenUpOnAfterMaxAttempts() throws Exception {
    ScriptedWorker worker = new ScriptedWorker();
    for (int i = 0; i < 4; i++) {
      worker.generateFailures.add(Status.UNAVAILABLE.withDescription("draining"));
    }
    WorkerClient.Reply reply = await(client(pool(worker), false).generate(requests("a"))).get(0);
    WorkerClient.Failed failed = assertInstanceOf(WorkerClient.Failed.class, reply);
    assertEquals(Status.Code.UNAVAILABLE, failed.code());
    assertEquals("gave up after 4 attempts: UNAVAILABLE: draining", failed.error());
    assertEquals(3, failed.retries());
    assertEquals(4, worker.generateCalls.size());
    assertEquals(List.of(100L, 200L, 400L), slept);
  }

  @Test
  void invalidArgumentIsNotRetried() throws Exception {
    ScriptedWorker worker = new ScriptedWorker();
    worker.generateFailures.add(Status.INVALID_ARGUMENT.withDescription("steps: must be <= 1000"));
    WorkerClient.Reply reply = await(client(pool(worker), false).generate(requests("a"))).get(0);
    WorkerClient.Failed failed = assertInstanceOf(WorkerClient.Failed.class, reply);
    assertEquals(Status.Code.INVALID_ARGUMENT, failed.code());
    assertEquals("INVALID_ARGUMENT: steps: must be <= 1000", failed.error());
    assertEquals("worker-0", failed.worker());
    assertEquals(0, failed.retries());
    assertEquals(List.of("a"), worker.generateCalls);
    assertEquals(List.of(), slept);
  }

  @Test
  void anInvalidItemOfABatchFailsAloneAndIsNotRetried() throws Exception {
    ScriptedWorker worker = new ScriptedWorker();
    worker.batchFailures.put("b", Status.INVALID_ARGUMENT.withDescription("prompt: is empty"));
    List<WorkerClient.Reply> replies =
        await(client(pool(worker), true).generate(requests("a", "b")));
    generated(replies.get(0), "a");
    WorkerClient.Failed failed = assertInstanceOf(WorkerClient.Failed.class, replies.get(1));
    assertEquals("INVALID_ARGUMENT: prompt: is empty", failed.error());
    assertEquals(0, failed.retries());
    assertEquals(List.of(), worker.generateCalls);
    assertEquals(List.of(), slept);
  }

  @Test
  void unimplementedGenerateBatchFallsBackToOneGenerateCallPerItem() throws Exception {
    OlderWorker worker = new OlderWorker();
    WorkerPool pool = pool(worker);
    WorkerClient client = client(pool, true);
    List<WorkerClient.Reply> replies = await(client.generate(requests("a", "b", "c")));
    for (int i = 0; i < 3; i++) {
      assertEquals(0, generated(replies.get(i), List.of("a", "b", "c").get(i)).retries());
    }
    assertEquals(1, worker.batchCalls.size());
    assertEquals(List.of("a", "b", "c"), worker.generateCalls.stream().sorted().toList());
    assertFalse(pool.takesBatches(0));
    // the worker is remembered: the next group goes straight to Generate calls
    generated(await(client.generate(requests("d"))).get(0), "d");
    assertEquals(1, worker.batchCalls.size());
    assertEquals(List.of(), slept, "a fallback is not a retry");
    assertEquals(0, pool.outstanding(0));
  }

  @Test
  void aRetryGoesToAnotherWorker() throws Exception {
    ScriptedWorker down = new ScriptedWorker();
    down.generateFailures.add(Status.UNAVAILABLE.withDescription("connection refused"));
    ScriptedWorker up = new ScriptedWorker();
    WorkerPool pool = pool(down, up);
    WorkerClient.Reply reply = await(client(pool, false).generate(requests("a"))).get(0);
    WorkerClient.Generated generated = generated(reply, "a");
    assertEquals("worker-1", generated.worker());
    assertEquals(1, generated.retries());
    assertEquals(List.of("a"), down.generateCalls);
    assertEquals(List.of("a"), up.generateCalls);
    assertEquals(List.of(100L), slept);
  }
}
