package dev.genloom.pipelines;

import com.google.protobuf.ByteString;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.GeneratorConfig;
import dev.genloom.proto.v1.ReferenceImage;
import dev.genloom.proto.v1.Result;
import dev.genloom.proto.v1.RunRecord;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
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
 * Sends each batch of work items to the worker fleet and writes the media. Calls run concurrently
 * (at most {@code maxInFlight} per instance), are retried with exponential backoff and full jitter
 * on UNAVAILABLE, CANCELLED (a worker that died mid-call), RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED
 * (gRPC's own retry buffer is too small for image payloads), and media are written to a temporary
 * name and renamed, so a retried or repeated request never leaves a partial or second file.
 */
final class GenerateFn extends DoFn<KV<ShardedKey<String>, Iterable<WorkItem>>, RunRecord> {
  private static final long serialVersionUID = 1L;
  static final TupleTag<RunRecord> RECORDS = new TupleTag<RunRecord>() {};
  static final TupleTag<DeadLetter> FAILURES = new TupleTag<DeadLetter>() {};

  private final String workers;
  private final String out;
  private final int maxInFlight;
  private final int maxAttempts;
  private final int deadlineSeconds;
  private final int initialBackoffMillis;
  private final Counter generated = Metrics.counter("genloom", "generated");
  private final Counter failed = Metrics.counter("genloom", "failed");
  private final Counter retries = Metrics.counter("genloom", "retries");
  private final Counter truncated = Metrics.counter("genloom", "truncated");
  private final Counter skipped = Metrics.counter("genloom", "skipped");

  private final WorkerSecurity security;
  private final ItemRecords records;
  private transient WorkerPool pool;
  private transient ExecutorService executor;
  private transient Semaphore inFlight;

  GenerateFn(
      String workers,
      String out,
      int maxInFlight,
      int maxAttempts,
      int deadlineSeconds,
      int initialBackoffMillis,
      WorkerSecurity security) {
    this.security = security;
    this.workers = workers;
    this.out = out;
    this.maxInFlight = maxInFlight;
    this.maxAttempts = maxAttempts;
    this.deadlineSeconds = deadlineSeconds;
    this.initialBackoffMillis = initialBackoffMillis;
    this.records = new ItemRecords(out);
  }

  @Setup
  public void setup() {
    pool = WorkerPool.forAddresses(workers, security);
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
   * Starts one call per item and returns without waiting for them: calls of many batches overlap,
   * up to {@code maxInFlight} per instance (the semaphore blocks here when that many are under
   * way). Finished calls are emitted as later elements arrive and the rest when the bundle ends.
   */
  @ProcessElement
  public void process(
      @Element KV<ShardedKey<String>, Iterable<WorkItem>> batch,
      @Timestamp Instant timestamp,
      BoundedWindow window,
      MultiOutputReceiver receiver)
      throws InterruptedException {
    // The batch stays whole: every item goes to one worker, the least loaded, so its dynamic
    // batcher runs them as one forward. Retries go alone to another worker.
    List<WorkItem> items = new java.util.ArrayList<>();
    batch.getValue().forEach(items::add);
    // Permits for the whole batch before any call starts, so its calls leave together and reach
    // the worker inside one batching window (a batch larger than maxInFlight goes in parts).
    int permits = Math.min(items.size(), maxInFlight);
    inFlight.acquire(permits);
    int worker = pool.pickLeastLoaded();
    pool.begin(worker, items.size());
    int held = permits;
    for (WorkItem item : items) {
      if (held == 0) {
        inFlight.acquire();
      } else {
        held--;
      }
      pending.add(
          new Pending(
              CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      return generate(item, worker);
                    } finally {
                      inFlight.release();
                    }
                  },
                  executor),
              window,
              timestamp));
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

  /**
   * Generates one item, first on {@code firstWorker} (whose outstanding count the batch already
   * took for it), then, on a retryable failure, alone on other workers.
   */
  private Outcome generate(WorkItem item, int firstWorker) {
    long start = System.nanoTime();
    try {
      // finished by an earlier run of this launch, or by an earlier attempt of this bundle
      var earlier = records.finished(item.requestId());
      if (earlier.isPresent()) {
        pool.end(firstWorker);
        return new Outcome(earlier.get(), null, 0, true);
      }
    } catch (IOException e) {
      pool.end(firstWorker);
      throw new java.io.UncheckedIOException("cannot read the record of " + item.requestId(), e);
    }
    GeneratorConfig config = item.generatorConfig();
    RunRecord.Builder record =
        RunRecord.newBuilder()
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
    GenerateRequest request;
    try {
      request = request(item, config);
    } catch (IllegalArgumentException e) {
      pool.end(firstWorker);
      return failure(record, item, e.getMessage(), start, 0);
    }
    StatusRuntimeException last = null;
    int worker = firstWorker;
    for (int attempt = 0; attempt < maxAttempts; attempt++) {
      if (attempt > 0) {
        worker = pool.pickOther(worker);
        pool.begin(worker, 1);
      }
      record.setWorker(pool.address(worker));
      try {
        Result result;
        try {
          result = call(worker, request, record);
        } finally {
          pool.end(worker);
        }
        String media = writeMedia(item.requestId(), result);
        record
            .setStatus("ok")
            .setMedia(media)
            .setWallMs((System.nanoTime() - start) / 1_000_000)
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
      } catch (StatusRuntimeException e) {
        last = e;
        Status.Code code = e.getStatus().getCode();
        // The pipeline never cancels its own calls: CANCELLED means the worker went away mid-call
        // (the stream was reset), so it is retried like UNAVAILABLE.
        if (code != Status.Code.UNAVAILABLE
            && code != Status.Code.CANCELLED
            && code != Status.Code.RESOURCE_EXHAUSTED
            && code != Status.Code.DEADLINE_EXCEEDED) {
          return failure(
              record, item, code + ": " + e.getStatus().getDescription(), start, attempt);
        }
        if (code == Status.Code.UNAVAILABLE || code == Status.Code.CANCELLED) {
          pool.markDown(worker);
        }
        backoff(attempt);
      } catch (IOException e) {
        return failure(
            record, item, "writing media or record failed: " + e.getMessage(), start, attempt);
      }
    }
    return failure(
        record,
        item,
        "gave up after " + maxAttempts + " attempts: " + FleetCheck.describe(last),
        start,
        maxAttempts - 1);
  }

  private Outcome failure(
      RunRecord.Builder record, WorkItem item, String error, long start, int retried) {
    RunRecord failedRecord =
        record
            .setStatus("failed")
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

  private void backoff(int attempt) {
    long cap = Math.min(30_000L, (long) initialBackoffMillis << Math.min(attempt, 16));
    try {
      Thread.sleep(ThreadLocalRandom.current().nextLong(cap + 1));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while backing off", e);
    }
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

  private Result call(int worker, GenerateRequest request, RunRecord.Builder record) {
    Iterator<GenerateEvent> events =
        GenerationServiceGrpc.newBlockingStub(pool.channel(worker))
            .withCallCredentials(pool.callCredentials())
            .withDeadlineAfter(deadlineSeconds, TimeUnit.SECONDS)
            .generate(request);
    ByteArrayOutputStream data = new ByteArrayOutputStream();
    Result last = null;
    while (events.hasNext()) {
      GenerateEvent event = events.next();
      if (event.hasResult()) {
        last = event.getResult();
        data.writeBytes(last.getMedia(0).getData().toByteArray());
      }
    }
    if (last == null) {
      throw Status.INTERNAL
          .withDescription("the worker ended the call without a result")
          .asRuntimeException();
    }
    return last.toBuilder()
        .setMedia(0, last.getMedia(0).toBuilder().setData(ByteString.copyFrom(data.toByteArray())))
        .build();
  }

  /** Writes the media under out/media/ atomically; returns the path relative to out. */
  private String writeMedia(String requestId, Result result) throws IOException {
    String mime = result.getMedia(0).getMimeType();
    String relative = "media/" + requestId + (mime.equals("video/mp4") ? ".mp4" : ".png");
    ResourceId outDir = FileSystems.matchNewResource(out, true);
    ResourceId target =
        outDir.resolve(
            relative, org.apache.beam.sdk.io.fs.ResolveOptions.StandardResolveOptions.RESOLVE_FILE);
    ResourceId temp =
        outDir.resolve(
            "media/" + ItemRecords.TEMPORARY + requestId + "-" + java.util.UUID.randomUUID(),
            org.apache.beam.sdk.io.fs.ResolveOptions.StandardResolveOptions.RESOLVE_FILE);
    try (OutputStream os = Channels.newOutputStream(FileSystems.create(temp, MimeTypes.BINARY))) {
      result.getMedia(0).getData().writeTo(os);
    }
    FileSystems.rename(
        List.of(temp), List.of(target), MoveOptions.StandardMoveOptions.IGNORE_MISSING_FILES);
    return relative;
  }
}
