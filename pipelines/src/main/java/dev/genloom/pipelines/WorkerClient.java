package dev.genloom.pipelines;

import dev.genloom.proto.v1.GenerateBatchRequest;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.Result;
import io.grpc.CallCredentials;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Generates requests on the workers of a {@link WorkerPool} and hands back one {@link Reply} per
 * request. A group of requests goes whole to the least loaded worker, in one GenerateBatch call
 * (or, with batch calls off or on a worker that answered GenerateBatch with UNIMPLEMENTED, one
 * Generate call per request, leaving together). A request whose failure the {@link RetryPolicy}
 * retries goes alone, after its backoff through the {@link Sleeper}, to another worker as a
 * Generate call, while the rest of its group goes on. Results sent in several chunks are joined.
 * Calls run on the given executor; nothing here writes files.
 */
final class WorkerClient {
  /**
   * How each call is made.
   *
   * @param credentials per-call credentials (the bearer token), or null
   * @param deadlineSeconds deadline of one call
   * @param batchCalls whether a group goes as one GenerateBatch call
   */
  record CallSettings(CallCredentials credentials, int deadlineSeconds, boolean batchCalls) {}

  /** How one request ended, on which worker (its last attempt's), after how many retries. */
  sealed interface Reply permits Generated, Failed {
    String worker();

    int retries();
  }

  /** The whole result of the request. */
  record Generated(Result result, String worker, int retries) implements Reply {}

  /** The final failure: its status code and a message for the record and the dead letter. */
  record Failed(Status.Code code, String error, String worker, int retries) implements Reply {}

  private final WorkerPool pool;
  private final CallSettings settings;
  private final RetryPolicy retry;
  private final Sleeper sleeper;
  private final Executor executor;

  WorkerClient(
      WorkerPool pool,
      CallSettings settings,
      RetryPolicy retry,
      Sleeper sleeper,
      Executor executor) {
    this.pool = pool;
    this.settings = settings;
    this.retry = retry;
    this.sleeper = sleeper;
    this.executor = executor;
  }

  /**
   * Sends {@code requests} (distinct request ids) to the least loaded worker and returns at once
   * with one reply per request, in their order; each completes when its request ends. A future
   * completes exceptionally only on an error that is not a call's status (a bug, not a worker).
   */
  List<CompletableFuture<Reply>> generate(List<GenerateRequest> requests) {
    if (requests.isEmpty()) {
      return List.of();
    }
    int worker = pool.pickLeastLoaded();
    pool.begin(worker, requests.size());
    List<CompletableFuture<Reply>> replies = new ArrayList<>();
    for (int i = 0; i < requests.size(); i++) {
      replies.add(new CompletableFuture<>());
    }
    List<GenerateRequest> sent = List.copyOf(requests);
    executor.execute(() -> dispatch(sent, worker, replies));
    return replies;
  }

  /** Runs on a call thread: the group on {@code worker}, whose outstanding count includes it. */
  private void dispatch(
      List<GenerateRequest> requests, int worker, List<CompletableFuture<Reply>> replies) {
    try {
      if (settings.batchCalls() && pool.takesBatches(worker)) {
        batch(requests, replies, worker);
      } else {
        eachAlone(requests, replies, worker);
      }
    } catch (RuntimeException | Error e) {
      for (CompletableFuture<Reply> reply : replies) {
        reply.completeExceptionally(e);
      }
      throw e;
    }
  }

  /** One Generate call per request on {@code worker}, leaving together; the last on this thread. */
  private void eachAlone(
      List<GenerateRequest> requests, List<CompletableFuture<Reply>> replies, int worker) {
    for (int i = 0; i < requests.size(); i++) {
      GenerateRequest request = requests.get(i);
      CompletableFuture<Reply> reply = replies.get(i);
      if (i == requests.size() - 1) {
        complete(reply, () -> alone(request, 0, worker, null));
      } else {
        executor.execute(() -> complete(reply, () -> alone(request, 0, worker, null)));
      }
    }
  }

  private static void complete(CompletableFuture<Reply> reply, Supplier<Reply> work) {
    try {
      reply.complete(work.get());
    } catch (RuntimeException | Error e) {
      reply.completeExceptionally(e);
    }
  }

  /**
   * One GenerateBatch call for {@code requests}. Each request ends as its own result or failure
   * event arrives; a retryable failure of one request, or of the whole call, sends the requests it
   * hit alone to other workers. A worker without GenerateBatch gets one Generate call per request.
   */
  private void batch(
      List<GenerateRequest> requests, List<CompletableFuture<Reply>> replies, int worker) {
    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < requests.size(); i++) {
      index.put(requests.get(i).getRequestId(), i);
    }
    boolean[] ended = new boolean[requests.size()];
    ResultChunks[] chunks = new ResultChunks[requests.size()];
    int open = requests.size();
    try {
      Iterator<GenerateEvent> events =
          stub(worker)
              .generateBatch(GenerateBatchRequest.newBuilder().addAllRequests(requests).build());
      while (events.hasNext()) {
        GenerateEvent event = events.next();
        Integer i = index.get(event.getRequestId());
        if (i == null || ended[i]) {
          throw Status.INTERNAL
              .withDescription(
                  "the worker sent an event for request '"
                      + event.getRequestId()
                      + "', which is not open in this batch")
              .asRuntimeException();
        }
        switch (event.getEventCase()) {
          case QUEUED -> pool.queued(worker, event.getQueued().getPosition());
          case RESULT -> {
            if (chunks[i] == null) {
              chunks[i] = new ResultChunks();
            }
            Result whole = chunks[i].add(event.getResult());
            if (whole != null) {
              ended[i] = true;
              open--;
              pool.end(worker);
              replies.get(i).complete(new Generated(whole, pool.address(worker), 0));
            }
          }
          case FAILURE -> {
            ended[i] = true;
            open--;
            pool.end(worker);
            Status status =
                Status.fromCodeValue(event.getFailure().getCode())
                    .withDescription(event.getFailure().getMessage());
            retryOrFail(requests.get(i), replies.get(i), worker, status.asRuntimeException());
          }
          default -> {}
        }
      }
      if (open > 0) {
        throw Status.INTERNAL
            .withDescription("the worker ended the batch before every request had a result")
            .asRuntimeException();
      }
    } catch (StatusRuntimeException e) {
      List<GenerateRequest> left = new ArrayList<>();
      List<CompletableFuture<Reply>> leftReplies = new ArrayList<>();
      for (int i = 0; i < requests.size(); i++) {
        if (!ended[i]) {
          ended[i] = true;
          left.add(requests.get(i));
          leftReplies.add(replies.get(i));
        }
      }
      if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
        // a worker that predates GenerateBatch: one Generate call per request, on the same worker
        pool.refusesBatches(worker);
        eachAlone(left, leftReplies, worker);
        return;
      }
      for (int i = 0; i < left.size(); i++) {
        pool.end(worker);
        retryOrFail(left.get(i), leftReplies.get(i), worker, e);
      }
    }
  }

  /** After {@code error} on {@code worker}: the request alone on another worker, or its failure. */
  private void retryOrFail(
      GenerateRequest request,
      CompletableFuture<Reply> reply,
      int worker,
      StatusRuntimeException error) {
    Status.Code code = error.getStatus().getCode();
    if (!retry.retryable(code)) {
      reply.complete(failed(error, pool.address(worker), 0));
      return;
    }
    if (retry.workerDown(code)) {
      pool.markDown(worker);
    }
    executor.execute(() -> complete(reply, () -> alone(request, 1, worker, error)));
  }

  /**
   * Attempts {@code firstAttempt} onward of one request, each a Generate call of its own. Attempt 0
   * runs on {@code worker} (already counted for it); each later one waits its backoff and runs on
   * another worker than the last.
   */
  private Reply alone(
      GenerateRequest request, int firstAttempt, int worker, StatusRuntimeException last) {
    for (int attempt = firstAttempt; attempt < retry.maxAttempts(); attempt++) {
      if (attempt > 0) {
        backoff(attempt - 1);
        worker = pool.pickOther(worker);
        pool.begin(worker, 1);
      }
      Result result;
      try {
        try {
          result = call(worker, request);
        } finally {
          pool.end(worker);
        }
      } catch (StatusRuntimeException e) {
        last = e;
        Status.Code code = e.getStatus().getCode();
        if (!retry.retryable(code)) {
          return failed(e, pool.address(worker), attempt);
        }
        if (retry.workerDown(code)) {
          pool.markDown(worker);
        }
        continue;
      }
      return new Generated(result, pool.address(worker), attempt);
    }
    return new Failed(
        last.getStatus().getCode(),
        "gave up after " + retry.maxAttempts() + " attempts: " + FleetCheck.describe(last),
        pool.address(worker),
        retry.maxAttempts() - 1);
  }

  private static Failed failed(StatusRuntimeException e, String worker, int retries) {
    Status status = e.getStatus();
    return new Failed(
        status.getCode(), status.getCode() + ": " + status.getDescription(), worker, retries);
  }

  private void backoff(int retried) {
    try {
      sleeper.sleep(retry.backoffMillis(retried));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while backing off", e);
    }
  }

  private GenerationServiceGrpc.GenerationServiceBlockingStub stub(int worker) {
    return GenerationServiceGrpc.newBlockingStub(pool.channel(worker))
        .withCallCredentials(settings.credentials())
        .withDeadlineAfter(settings.deadlineSeconds(), TimeUnit.SECONDS);
  }

  /** One Generate call; a result in several chunks is joined. */
  private Result call(int worker, GenerateRequest request) {
    Iterator<GenerateEvent> events = stub(worker).generate(request);
    ResultChunks chunks = new ResultChunks();
    Result whole = null;
    while (events.hasNext()) {
      GenerateEvent event = events.next();
      if (event.hasQueued()) {
        pool.queued(worker, event.getQueued().getPosition());
      } else if (event.hasResult()) {
        whole = chunks.add(event.getResult());
      }
    }
    if (whole == null) {
      throw Status.INTERNAL
          .withDescription("the worker ended the call without a result")
          .asRuntimeException();
    }
    return whole;
  }
}
