package dev.genloom.pipelines;

import com.google.protobuf.ByteString;
import dev.genloom.proto.MediaKind;
import dev.genloom.proto.RunLayout;
import dev.genloom.proto.v1.GenerateBatchRequest;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.GeneratorConfig;
import dev.genloom.proto.v1.ReferenceImage;
import dev.genloom.proto.v1.Result;
import dev.genloom.proto.v1.RunRecord;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.MoveOptions;
import org.apache.beam.sdk.io.fs.ResourceId;
import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.windowing.BoundedWindow;
import org.apache.beam.sdk.util.MimeTypes;
import org.apache.beam.sdk.util.ShardedKey;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.TupleTag;
import org.joda.time.Instant;

/**
 * Sends each batch of work items to the worker fleet and writes the media. A batch goes whole to
 * one worker, in one GenerateBatch call (or, with {@code batchCalls} off or on a worker that lacks
 * it, one Generate call per item, leaving together). Items are in flight concurrently (at most
 * {@code maxInFlight} per instance). An item whose failure the {@link RetryPolicy} retries goes
 * alone to another worker after its backoff, while the rest of its batch goes on. Media are written
 * to a temporary name and renamed, so a retried or repeated request never leaves a partial or
 * second file.
 */
final class GenerateFn extends DoFn<KV<ShardedKey<String>, Iterable<WorkItem>>, RunRecord> {
  private static final long serialVersionUID = 1L;
  static final TupleTag<RunRecord> RECORDS = new TupleTag<RunRecord>() {};
  static final TupleTag<DeadLetter> FAILURES = new TupleTag<DeadLetter>() {};

  private final GenerateMedia.Settings settings;
  private final int maxInFlight;
  private final RetryPolicy retry;
  private final Counter generated = Metrics.counter("genloom", "generated");
  private final Counter failed = Metrics.counter("genloom", "failed");
  private final Counter retries = Metrics.counter("genloom", "retries");
  private final Counter truncated = Metrics.counter("genloom", "truncated");
  private final Counter skipped = Metrics.counter("genloom", "skipped");

  private final ItemRecords records;
  private transient WorkerPool pool;
  private transient ExecutorService executor;
  private transient Semaphore inFlight;

  GenerateFn(GenerateMedia.Settings settings) {
    this.settings = settings;
    this.maxInFlight = settings.maxInFlight();
    this.retry = settings.retry();
    this.records = new ItemRecords(settings.out());
  }

  @Setup
  public void setup() {
    pool = WorkerPool.forAddresses(settings.workers(), settings.security());
    executor =
        Executors.newFixedThreadPool(
            maxInFlight,
            r -> {
              Thread t = new Thread(r, "genloom-generate");
              t.setDaemon(true);
              return t;
            });
    inFlight = new Semaphore(maxInFlight);
  }

  @Teardown
  public void teardown() {
    if (executor != null) {
      executor.shutdownNow();
    }
  }

  /** The outcome of one item, produced on a call thread and emitted on the bundle thread. */
  private record Outcome(RunRecord record, DeadLetter deadLetter, int retries, boolean skipped) {}

  /** A call under way, with the window and timestamp its outputs belong to. */
  private record Pending(
      CompletableFuture<Outcome> call, BoundedWindow window, Instant timestamp) {}

  /** Calls of this bundle not yet emitted, oldest first. */
  private transient Deque<Pending> pending;

  @StartBundle
  public void startBundle() {
    pending = new ArrayDeque<>();
  }

  /**
   * Sends the batch and returns without waiting for it: calls of many batches overlap, up to {@code
   * maxInFlight} items per instance (the semaphore blocks here when that many are under way).
   * Finished items are emitted as later elements arrive and the rest when the bundle ends.
   */
  @ProcessElement
  public void process(
      @Element KV<ShardedKey<String>, Iterable<WorkItem>> batch,
      @Timestamp Instant timestamp,
      BoundedWindow window,
      MultiOutputReceiver receiver)
      throws InterruptedException {
    List<WorkItem> items = new ArrayList<>();
    batch.getValue().forEach(items::add);
    // A batch larger than maxInFlight goes in parts; each part's permits are taken before it
    // leaves, so its items reach the worker together.
    for (int from = 0; from < items.size(); from += maxInFlight) {
      List<WorkItem> part = items.subList(from, Math.min(items.size(), from + maxInFlight));
      inFlight.acquire(part.size());
      int worker = pool.pickLeastLoaded();
      pool.begin(worker, part.size());
      List<CompletableFuture<Outcome>> outcomes = new ArrayList<>();
      for (int i = 0; i < part.size(); i++) {
        CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        outcome.whenComplete((o, e) -> inFlight.release());
        outcomes.add(outcome);
        pending.add(new Pending(outcome, window, timestamp));
      }
      List<WorkItem> sent = List.copyOf(part);
      executor.execute(() -> dispatch(sent, worker, outcomes));
    }
    while (!pending.isEmpty() && pending.peek().call().isDone()) {
      Outcome outcome = pending.poll().call().join();
      receiver.get(RECORDS).output(outcome.record());
      if (outcome.deadLetter() != null) {
        receiver.get(FAILURES).output(outcome.deadLetter());
      }
      count(outcome);
    }
  }

  @FinishBundle
  public void finishBundle(FinishBundleContext context) {
    while (!pending.isEmpty()) {
      Pending p = pending.poll();
      Outcome outcome = p.call().join();
      context.output(RECORDS, outcome.record(), p.timestamp(), p.window());
      if (outcome.deadLetter() != null) {
        context.output(FAILURES, outcome.deadLetter(), p.timestamp(), p.window());
      }
      count(outcome);
    }
  }

  /** Metrics belong to the bundle thread (Beam tracks metrics per bundle thread). */
  private void count(Outcome outcome) {
    retries.inc(outcome.retries());
    if (outcome.skipped()) {
      skipped.inc();
    } else if (outcome.deadLetter() != null) {
      failed.inc();
    } else {
      generated.inc();
      if (outcome.record().getTruncatedTokens() > 0) {
        truncated.inc();
      }
    }
  }

  /** One item on its way to a worker: its request and the record being filled in. */
  private static final class Call {
    final WorkItem item;
    final RunRecord.Builder record;
    final GenerateRequest request;
    final long start;

    Call(WorkItem item, RunRecord.Builder record, GenerateRequest request, long start) {
      this.item = item;
      this.record = record;
      this.request = request;
      this.start = start;
    }
  }

  /**
   * Sends {@code items} to {@code worker} (whose outstanding count already includes them) and
   * completes each item's outcome; runs on a call thread. An item already finished, by an earlier
   * run of this launch or an earlier attempt of this bundle, is not sent again.
   */
  private void dispatch(
      List<WorkItem> items, int worker, List<CompletableFuture<Outcome>> outcomes) {
    try {
      List<Call> calls = new ArrayList<>();
      List<CompletableFuture<Outcome>> open = new ArrayList<>();
      for (int i = 0; i < items.size(); i++) {
        WorkItem item = items.get(i);
        long start = System.nanoTime();
        Optional<RunRecord> earlier;
        try {
          earlier = records.finished(item.requestId());
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read the record of " + item.requestId(), e);
        }
        if (earlier.isPresent()) {
          pool.end(worker);
          outcomes.get(i).complete(new Outcome(earlier.get(), null, 0, true));
          continue;
        }
        GeneratorConfig config = item.generatorConfig();
        RunRecord.Builder record = newRecord(item, config);
        try {
          calls.add(new Call(item, record, request(item, config), start));
          open.add(outcomes.get(i));
        } catch (IllegalArgumentException e) {
          pool.end(worker);
          outcomes.get(i).complete(failure(record, item, e.getMessage(), start, 0));
        }
      }
      if (calls.isEmpty()) {
        return;
      }
      if (settings.batchCalls() && pool.takesBatches(worker)) {
        batch(calls, open, worker);
      } else {
        for (int i = 0; i < calls.size(); i++) {
          Call call = calls.get(i);
          CompletableFuture<Outcome> outcome = open.get(i);
          if (i == calls.size() - 1) {
            outcome.complete(alone(call, 0, worker, null));
          } else {
            executor.execute(() -> complete(outcome, () -> alone(call, 0, worker, null)));
          }
        }
      }
    } catch (RuntimeException | Error e) {
      for (CompletableFuture<Outcome> outcome : outcomes) {
        outcome.completeExceptionally(e);
      }
      throw e;
    }
  }

  private static void complete(
      CompletableFuture<Outcome> outcome, java.util.function.Supplier<Outcome> work) {
    try {
      outcome.complete(work.get());
    } catch (RuntimeException | Error e) {
      outcome.completeExceptionally(e);
    }
  }

  /**
   * One GenerateBatch call for {@code calls}. Each item ends as its own result or failure event
   * arrives; a retryable failure of one item, or of the whole call, sends the items it hit alone to
   * other workers.
   */
  private void batch(List<Call> calls, List<CompletableFuture<Outcome>> outcomes, int worker) {
    Map<String, Integer> index = new HashMap<>();
    GenerateBatchRequest.Builder request = GenerateBatchRequest.newBuilder();
    for (int i = 0; i < calls.size(); i++) {
      index.put(calls.get(i).request.getRequestId(), i);
      request.addRequests(calls.get(i).request);
      calls.get(i).record.setWorker(pool.address(worker));
    }
    boolean[] ended = new boolean[calls.size()];
    ResultChunks[] chunks = new ResultChunks[calls.size()];
    int open = calls.size();
    try {
      Iterator<GenerateEvent> events = stub(worker).generateBatch(request.build());
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
              outcomes.get(i).complete(finish(calls.get(i), whole, 0));
            }
          }
          case FAILURE -> {
            ended[i] = true;
            open--;
            pool.end(worker);
            Status status =
                Status.fromCodeValue(event.getFailure().getCode())
                    .withDescription(event.getFailure().getMessage());
            retryOrFail(calls.get(i), outcomes.get(i), worker, status.asRuntimeException());
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
      boolean unimplemented = e.getStatus().getCode() == Status.Code.UNIMPLEMENTED;
      if (unimplemented) {
        // a worker that predates GenerateBatch: one Generate call per item, on the same worker
        pool.refusesBatches(worker);
      }
      for (int i = 0; i < calls.size(); i++) {
        if (ended[i]) {
          continue;
        }
        ended[i] = true;
        Call call = calls.get(i);
        CompletableFuture<Outcome> outcome = outcomes.get(i);
        if (unimplemented) {
          executor.execute(() -> complete(outcome, () -> alone(call, 0, worker, null)));
        } else {
          pool.end(worker);
          retryOrFail(call, outcome, worker, e);
        }
      }
    }
  }

  /** After {@code error} on {@code worker}: the item alone on another worker, or its failure. */
  private void retryOrFail(
      Call call, CompletableFuture<Outcome> outcome, int worker, StatusRuntimeException error) {
    Status.Code code = error.getStatus().getCode();
    if (!retry.retryable(code)) {
      outcome.complete(failed(call, error, 0));
      return;
    }
    if (retry.workerDown(code)) {
      pool.markDown(worker);
    }
    executor.execute(() -> complete(outcome, () -> alone(call, 1, worker, error)));
  }

  /**
   * Attempts {@code firstAttempt} onward of one item, each a Generate call of its own. Attempt 0
   * runs on {@code worker} (already counted for it); each later one waits its backoff and runs on
   * another worker than the last.
   */
  private Outcome alone(Call call, int firstAttempt, int worker, StatusRuntimeException last) {
    for (int attempt = firstAttempt; attempt < retry.maxAttempts(); attempt++) {
      if (attempt > 0) {
        retry.backoff(attempt - 1);
        worker = pool.pickOther(worker);
        pool.begin(worker, 1);
      }
      call.record.setWorker(pool.address(worker));
      Result result;
      try {
        try {
          result = call(worker, call.request);
        } finally {
          pool.end(worker);
        }
      } catch (StatusRuntimeException e) {
        last = e;
        Status.Code code = e.getStatus().getCode();
        if (!retry.retryable(code)) {
          return failed(call, e, attempt);
        }
        if (retry.workerDown(code)) {
          pool.markDown(worker);
        }
        continue;
      }
      return finish(call, result, attempt);
    }
    return failure(
        call.record,
        call.item,
        "gave up after " + retry.maxAttempts() + " attempts: " + FleetCheck.describe(last),
        call.start,
        retry.maxAttempts() - 1);
  }

  private Outcome failed(Call call, StatusRuntimeException e, int attempt) {
    return failure(
        call.record,
        call.item,
        e.getStatus().getCode() + ": " + e.getStatus().getDescription(),
        call.start,
        attempt);
  }

  /** Writes the media and the item's record; {@code attempt} is the number of retries it took. */
  private Outcome finish(Call call, Result result, int attempt) {
    RunRecord.Builder record = call.record;
    try {
      String media = writeMedia(call.item.requestId(), result);
      record
          .setStatus(RunRecord.Status.STATUS_OK)
          .setMedia(media)
          .setWallMs((System.nanoTime() - call.start) / 1_000_000)
          .setBlockEvals(result.getStats().getBlockEvals())
          .setBlockSkips(result.getStats().getBlockSkips())
          .setComputeMs(result.getStats().getComputeMs())
          .setBatchSize(result.getStats().getBatchSize())
          .setTruncatedTokens(result.getStats().getTruncatedTokens());
      if (result.getMediaCount() > 0) {
        record.setWidth(result.getMedia(0).getWidth()).setHeight(result.getMedia(0).getHeight());
      }
      RunRecord done = record.build();
      records.write(done);
      return new Outcome(done, null, attempt, false);
    } catch (IOException e) {
      return failure(
          record,
          call.item,
          "writing media or record failed: " + e.getMessage(),
          call.start,
          attempt);
    }
  }

  private static RunRecord.Builder newRecord(WorkItem item, GeneratorConfig config) {
    return RunRecord.newBuilder()
        .setRequestId(item.requestId())
        .setPrompt(item.item().prompt())
        .setSeed(item.seed())
        .setModel(config.getModel())
        .setConfig(item.configId())
        .setItemId(item.item().id())
        .setSourceLine(item.item().line())
        .setReferenceImage(item.item().referenceImage())
        .setNegativePrompt(item.item().negativePrompt())
        .setBaseline(config.getBaseline());
  }

  private Outcome failure(
      RunRecord.Builder record, WorkItem item, String error, long start, int retried) {
    RunRecord failedRecord =
        record
            .setStatus(RunRecord.Status.STATUS_FAILED)
            .setError(error)
            .setWallMs((System.nanoTime() - start) / 1_000_000)
            .build();
    return new Outcome(
        failedRecord,
        new DeadLetter(
            item.item().source(),
            item.item().line(),
            describe(item),
            error + " (request " + item.requestId() + ")"),
        retried,
        false);
  }

  private static String describe(WorkItem item) {
    return item.item().prompt()
        + " | seed "
        + item.seed()
        + " | config "
        + item.configId()
        + (item.item().referenceImage().isEmpty()
            ? ""
            : " | reference " + item.item().referenceImage());
  }

  private static GenerateRequest request(WorkItem item, GeneratorConfig config) {
    GenerateRequest.Builder request =
        GenerateRequest.newBuilder()
            .setRequestId(item.requestId())
            .setModel(config.getModel())
            .setPrompt(item.item().prompt())
            .setNegativePrompt(item.item().negativePrompt())
            .setSeed(item.seed())
            .setSteps(config.getSteps())
            .setSampler(config.getSampler())
            .setCachePolicy(config.getCachePolicy())
            .setArSampling(config.getArSampling())
            .setNumFrames(config.getNumFrames())
            .setWidth(config.getWidth())
            .setHeight(config.getHeight())
            .setAspectRatio(config.getAspectRatio())
            .setPromptOverflow(config.getPromptOverflow());
    if (config.hasGuidanceScale()) {
      request.setGuidanceScale(config.getGuidanceScale());
    }
    if (!item.item().referenceImage().isEmpty()) {
      request.addReferenceImages(
          ReferenceImage.newBuilder().setData(readReference(item.item().referenceImage())));
    }
    return request.build();
  }

  /** Reads a reference image through Beam FileSystems; failures name the file. */
  static ByteString readReference(String spec) {
    try {
      ResourceId resource = FileSystems.matchSingleFileSpec(spec).resourceId();
      try (InputStream in = Channels.newInputStream(FileSystems.open(resource))) {
        return ByteString.readFrom(in);
      }
    } catch (IOException | IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "reference_image: cannot read '" + spec + "': " + e.getMessage());
    }
  }

  private GenerationServiceGrpc.GenerationServiceBlockingStub stub(int worker) {
    return GenerationServiceGrpc.newBlockingStub(pool.channel(worker))
        .withCallCredentials(pool.callCredentials())
        .withDeadlineAfter(settings.callDeadlineSeconds(), TimeUnit.SECONDS);
  }

  /** One Generate call; a result in several chunks is joined (without copying the bytes). */
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

  /** The result events of one request, joined without copying the media bytes. */
  private static final class ResultChunks {
    private ByteString data = ByteString.EMPTY;

    /** Adds one result event; returns the whole result at its last chunk, else null. */
    Result add(Result chunk) {
      if (chunk.getMediaCount() > 0) {
        data = data.concat(chunk.getMedia(0).getData());
      }
      if (chunk.getChunkIndex() < chunk.getChunkCount() - 1) {
        return null;
      }
      if (chunk.getMediaCount() == 0 || chunk.getChunkCount() <= 1) {
        return chunk;
      }
      return chunk.toBuilder().setMedia(0, chunk.getMedia(0).toBuilder().setData(data)).build();
    }
  }

  /** Writes the media under out/media/ atomically; returns the path relative to out. */
  private String writeMedia(String requestId, Result result) throws IOException {
    String relative =
        RunLayout.mediaPath(requestId, MediaKind.ofMimeType(result.getMedia(0).getMimeType()));
    ResourceId outDir = FileSystems.matchNewResource(settings.out(), true);
    ResourceId target =
        outDir.resolve(
            relative, org.apache.beam.sdk.io.fs.ResolveOptions.StandardResolveOptions.RESOLVE_FILE);
    ResourceId temp =
        outDir.resolve(
            RunLayout.MEDIA
                + "/"
                + RunLayout.TEMPORARY
                + requestId
                + "-"
                + java.util.UUID.randomUUID(),
            org.apache.beam.sdk.io.fs.ResolveOptions.StandardResolveOptions.RESOLVE_FILE);
    try (OutputStream os = Channels.newOutputStream(FileSystems.create(temp, MimeTypes.BINARY))) {
      result.getMedia(0).getData().writeTo(os);
    }
    FileSystems.rename(
        List.of(temp), List.of(target), MoveOptions.StandardMoveOptions.IGNORE_MISSING_FILES);
    return relative;
  }
}
