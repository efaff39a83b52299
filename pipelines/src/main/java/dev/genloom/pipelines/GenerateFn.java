package dev.genloom.pipelines;

import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.windowing.BoundedWindow;
import org.apache.beam.sdk.util.ShardedKey;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.TupleTag;
import org.joda.time.Instant;

/**
 * The DoFn of {@link GenerateMedia}: each batch of work items goes to the fleet through a {@link
 * WorkerClient} (which picks the worker, makes the calls and retries), each generated item's media
 * through {@link MediaFiles} and its record through {@link ItemRecords}, and each item's {@link
 * Outcome} is emitted and counted. Items an earlier run finished are emitted from their records
 * without a call. Items are in flight concurrently, at most {@code maxInFlight} per instance. The
 * client and its call threads live from {@code @Setup} to {@code @Teardown}; the channels are the
 * JVM's ({@link WorkerPool}).
 */
final class GenerateFn extends DoFn<KV<ShardedKey<String>, Iterable<WorkItem>>, RunRecord> {
  private static final long serialVersionUID = 1L;
  static final TupleTag<RunRecord> RECORDS = new TupleTag<RunRecord>() {};
  static final TupleTag<DeadLetter> FAILURES = new TupleTag<DeadLetter>() {};

  private final GenerateMedia.Settings settings;
  private final int maxInFlight;
  private final Counter generated = Metrics.counter("genloom", "generated");
  private final Counter failed = Metrics.counter("genloom", "failed");
  private final Counter retries = Metrics.counter("genloom", "retries");
  private final Counter truncated = Metrics.counter("genloom", "truncated");
  private final Counter skipped = Metrics.counter("genloom", "skipped");

  private final ItemRecords records;
  private final MediaFiles media;
  private transient ExecutorService executor;
  private transient Semaphore inFlight;
  private transient WorkerClient client;

  GenerateFn(GenerateMedia.Settings settings) {
    this.settings = settings;
    this.maxInFlight = settings.maxInFlight();
    this.records = new ItemRecords(settings.out());
    this.media = new MediaFiles(settings.out());
  }

  @Setup
  public void setup() {
    WorkerPool pool = WorkerPool.forAddresses(settings.workers(), settings.security());
    executor =
        Executors.newFixedThreadPool(
            maxInFlight,
            r -> {
              Thread t = new Thread(r, "genloom-generate");
              t.setDaemon(true);
              return t;
            });
    inFlight = new Semaphore(maxInFlight);
    client =
        new WorkerClient(
            pool,
            new WorkerClient.CallSettings(
                pool.callCredentials(), settings.callDeadlineSeconds(), settings.batchCalls()),
            settings.retry(),
            Thread::sleep,
            executor);
  }

  @Teardown
  public void teardown() {
    if (executor != null) {
      executor.shutdownNow();
    }
  }

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
      List<CompletableFuture<Outcome>> outcomes = new ArrayList<>();
      for (int i = 0; i < part.size(); i++) {
        CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        outcome.whenComplete((o, e) -> inFlight.release());
        outcomes.add(outcome);
        pending.add(new Pending(outcome, window, timestamp));
      }
      List<WorkItem> sent = List.copyOf(part);
      executor.execute(() -> send(sent, outcomes));
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
   * Runs on a call thread: completes the outcome of each item already finished (by an earlier run
   * of this launch or an earlier attempt of this bundle) or whose request cannot be made, and sends
   * the rest to the workers, writing each one's media and record as its reply arrives.
   */
  private void send(List<WorkItem> items, List<CompletableFuture<Outcome>> outcomes) {
    try {
      List<GenerateRequest> requests = new ArrayList<>();
      List<Integer> sent = new ArrayList<>();
      long[] starts = new long[items.size()];
      for (int i = 0; i < items.size(); i++) {
        WorkItem item = items.get(i);
        starts[i] = System.nanoTime();
        Optional<RunRecord> earlier;
        try {
          earlier = records.finished(item.requestId());
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read the record of " + item.requestId(), e);
        }
        if (earlier.isPresent()) {
          outcomes.get(i).complete(Outcome.skipped(earlier.get()));
          continue;
        }
        try {
          requests.add(GenerateRequests.of(item));
          sent.add(i);
        } catch (IllegalArgumentException e) {
          outcomes
              .get(i)
              .complete(Outcome.failed(item, "", e.getMessage(), millisSince(starts[i]), 0));
        }
      }
      if (requests.isEmpty()) {
        return;
      }
      List<CompletableFuture<WorkerClient.Reply>> replies = client.generate(requests);
      for (int k = 0; k < sent.size(); k++) {
        int i = sent.get(k);
        CompletableFuture<Outcome> outcome = outcomes.get(i);
        replies
            .get(k)
            .whenComplete(
                (reply, error) -> {
                  if (error != null) {
                    outcome.completeExceptionally(error);
                    return;
                  }
                  try {
                    outcome.complete(finish(items.get(i), reply, starts[i]));
                  } catch (RuntimeException | Error e) {
                    outcome.completeExceptionally(e);
                  }
                });
      }
    } catch (RuntimeException | Error e) {
      for (CompletableFuture<Outcome> outcome : outcomes) {
        outcome.completeExceptionally(e);
      }
      throw e;
    }
  }

  /** A generated item's media and record written, or its failure. */
  private Outcome finish(WorkItem item, WorkerClient.Reply reply, long start) {
    if (reply instanceof WorkerClient.Failed failed) {
      return Outcome.failed(
          item, failed.worker(), failed.error(), millisSince(start), failed.retries());
    }
    WorkerClient.Generated generated = (WorkerClient.Generated) reply;
    try {
      String path = media.write(item.requestId(), generated.result());
      Outcome done =
          Outcome.generated(
              item,
              generated.worker(),
              generated.result(),
              path,
              millisSince(start),
              generated.retries());
      records.write(done.record());
      return done;
    } catch (IOException e) {
      return Outcome.failed(
          item,
          generated.worker(),
          "writing media or record failed: " + e.getMessage(),
          millisSince(start),
          generated.retries());
    }
  }

  private static long millisSince(long start) {
    return (System.nanoTime() - start) / 1_000_000;
  }
}
