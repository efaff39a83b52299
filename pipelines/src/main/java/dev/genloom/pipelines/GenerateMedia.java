package dev.genloom.pipelines;

import dev.genloom.proto.v1.RunRecord;
import java.io.Serializable;
import org.apache.beam.sdk.coders.KvCoder;
import org.apache.beam.sdk.coders.SerializableCoder;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.transforms.GroupIntoBatches;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.SerializableFunction;
import org.apache.beam.sdk.transforms.WithKeys;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;

/**
 * Work items to media through the worker fleet: items of one configuration grouped into batches
 * (sharded keys, so several threads or machines batch one configuration), each batch sent to one
 * worker, the media and each item's record written under the output folder. Outputs {@link
 * #RECORDS} (one {@link RunRecord} per item, ok or failed) and {@link #FAILURES} (a dead letter per
 * failed item). Each setting is checked where it is set.
 */
public final class GenerateMedia extends PTransform<PCollection<WorkItem>, PCollectionTuple> {
  private static final long serialVersionUID = 1L;
  public static final TupleTag<RunRecord> RECORDS = GenerateFn.RECORDS;
  public static final TupleTag<DeadLetter> FAILURES = GenerateFn.FAILURES;

  /** What {@link GenerateFn} needs, as one immutable value. */
  record Settings(
      String workers,
      String out,
      int batchSize,
      int maxInFlight,
      RetryPolicy retry,
      int callDeadlineSeconds,
      boolean batchCalls,
      WorkerSecurity security)
      implements Serializable {}

  private final Settings settings;

  private GenerateMedia(Settings settings) {
    this.settings = settings;
  }

  /**
   * Sends to {@code workers} (host:port, comma-separated) and writes under {@code out}; batches of
   * 8, 16 items in flight per DoFn instance, 8 attempts from 200 ms backoff, 300 s per call, batch
   * calls, plaintext without a token.
   */
  public static GenerateMedia to(String workers, String out) {
    WorkerPool.parse(workers);
    if (out == null || out.isBlank()) {
      throw new IllegalArgumentException("out: an output folder is required");
    }
    return new GenerateMedia(
        new Settings(
            workers, out, 8, 16, RetryPolicy.of(8, 200), 300, true, WorkerSecurity.PLAINTEXT));
  }

  public GenerateMedia withBatchSize(int n) {
    positive("batch-size", n);
    return with(m -> m.batchSize = n);
  }

  public GenerateMedia withMaxInFlight(int n) {
    positive("max-in-flight", n);
    return with(m -> m.maxInFlight = n);
  }

  /** Attempts per item and the first backoff (see {@link RetryPolicy}). */
  public GenerateMedia withRetries(int maxAttempts, int initialBackoffMillis) {
    RetryPolicy retry = RetryPolicy.of(maxAttempts, initialBackoffMillis);
    return with(m -> m.retry = retry);
  }

  public GenerateMedia withCallDeadlineSeconds(int seconds) {
    positive("call-deadline-seconds", seconds);
    return with(m -> m.callDeadlineSeconds = seconds);
  }

  /** "batch": one GenerateBatch call per batch; "item": one Generate call per item. */
  public GenerateMedia withWorkerCalls(String mode) {
    boolean batch =
        switch (mode) {
          case "batch" -> true;
          case "item" -> false;
          default ->
              throw new IllegalArgumentException(
                  "worker-calls: '" + mode + "' is not batch or item");
        };
    return with(m -> m.batchCalls = batch);
  }

  public GenerateMedia withSecurity(WorkerSecurity security) {
    return with(m -> m.security = security);
  }

  /** The settings being changed by one withX call. */
  private static final class Draft {
    int batchSize;
    int maxInFlight;
    RetryPolicy retry;
    int callDeadlineSeconds;
    boolean batchCalls;
    WorkerSecurity security;
  }

  private GenerateMedia with(java.util.function.Consumer<Draft> change) {
    Settings s = settings;
    Draft d = new Draft();
    d.batchSize = s.batchSize();
    d.maxInFlight = s.maxInFlight();
    d.retry = s.retry();
    d.callDeadlineSeconds = s.callDeadlineSeconds();
    d.batchCalls = s.batchCalls();
    d.security = s.security();
    change.accept(d);
    return new GenerateMedia(
        new Settings(
            s.workers(),
            s.out(),
            d.batchSize,
            d.maxInFlight,
            d.retry,
            d.callDeadlineSeconds,
            d.batchCalls,
            d.security));
  }

  Settings settings() {
    return settings;
  }

  private static void positive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + ": must be >= 1, got " + value);
    }
  }

  @Override
  public PCollectionTuple expand(PCollection<WorkItem> work) {
    PCollectionTuple out =
        work.apply(
                "KeyByConfig",
                WithKeys.of((SerializableFunction<WorkItem, String>) WorkItem::configId))
            .setCoder(KvCoder.of(StringUtf8Coder.of(), WorkItemCoder.Work.of()))
            .apply(
                "BatchPerConfig",
                GroupIntoBatches.<String, WorkItem>ofSize(settings.batchSize()).withShardedKey())
            .apply(
                "Generate",
                ParDo.of(new GenerateFn(settings))
                    .withOutputTags(RECORDS, TupleTagList.of(FAILURES)));
    out.get(RECORDS).setCoder(RunRecordCoder.of());
    out.get(FAILURES).setCoder(SerializableCoder.of(DeadLetter.class));
    return out;
  }
}
