package dev.genloom.pipelines;

import dev.genloom.proto.v1.GeneratorConfig;
import dev.genloom.proto.v1.Result;
import dev.genloom.proto.v1.RunRecord;

/**
 * How one work item ended: its {@link RunRecord}, a {@link DeadLetter} when it failed, the retries
 * it took, and whether an earlier run had already finished it. Built here, and only here, from the
 * item and what the worker answered.
 */
record Outcome(RunRecord record, DeadLetter deadLetter, int retries, boolean skipped) {

  /** An item an earlier run, or an earlier attempt of this bundle, finished: its record as is. */
  static Outcome skipped(RunRecord earlier) {
    return new Outcome(earlier, null, 0, true);
  }

  /** A generated item whose media are at {@code media} (relative to the output folder). */
  static Outcome generated(
      WorkItem item, String worker, Result result, String media, long wallMs, int retries) {
    RunRecord.Builder record =
        base(item, worker)
            .setStatus(RunRecord.Status.STATUS_OK)
            .setMedia(media)
            .setWallMs(wallMs)
            .setBlockEvals(result.getStats().getBlockEvals())
            .setBlockSkips(result.getStats().getBlockSkips())
            .setComputeMs(result.getStats().getComputeMs())
            .setBatchSize(result.getStats().getBatchSize())
            .setTruncatedTokens(result.getStats().getTruncatedTokens());
    if (result.getMediaCount() > 0) {
      record.setWidth(result.getMedia(0).getWidth()).setHeight(result.getMedia(0).getHeight());
    }
    return new Outcome(record.build(), null, retries, false);
  }

  /**
   * A failed item: its record says {@code error}, and a dead letter carries the original input.
   *
   * @param worker the worker of its last attempt, or empty when no worker was called
   */
  static Outcome failed(WorkItem item, String worker, String error, long wallMs, int retries) {
    RunRecord record =
        base(item, worker)
            .setStatus(RunRecord.Status.STATUS_FAILED)
            .setError(error)
            .setWallMs(wallMs)
            .build();
    DeadLetter letter =
        new DeadLetter(
            item.item().source(),
            item.item().line(),
            describe(item),
            error + " (request " + item.requestId() + ")");
    return new Outcome(record, letter, retries, false);
  }

  private static RunRecord.Builder base(WorkItem item, String worker) {
    GeneratorConfig config = item.generatorConfig();
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
        .setBaseline(config.getBaseline())
        .setWorker(worker);
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
}
