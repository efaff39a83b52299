package dev.genloom.workers;

import ai.djl.Device;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Worker settings.
 *
 * @param device where generators run
 * @param maxBatch largest dynamic batch
 * @param maxQueueDelayMillis longest a request waits for batch partners
 * @param maxQueue requests that may wait; more are refused with RESOURCE_EXHAUSTED
 * @param computeThreads batches computed concurrently
 * @param outputRoot where URI delivery writes media, if enabled
 * @param inputRoots folders reference-image URIs may point into
 * @param maxReferenceBytes largest reference image accepted
 * @param chunkBytes largest media payload per result event
 * @param workerName reported in results (host:port or pod name)
 */
public record WorkerOptions(
    Device device,
    int maxBatch,
    long maxQueueDelayMillis,
    int maxQueue,
    int computeThreads,
    Optional<Path> outputRoot,
    List<Path> inputRoots,
    long maxReferenceBytes,
    int chunkBytes,
    String workerName) {

  public WorkerOptions {
    inputRoots = List.copyOf(inputRoots);
    if (maxBatch < 1 || maxQueue < 1 || computeThreads < 1 || maxQueueDelayMillis < 0) {
      throw new IllegalArgumentException(
          "max-batch, max-queue and threads must be >= 1, delay >= 0");
    }
  }

  /** Defaults for tests and the embedded worker. */
  public static WorkerOptions defaults() {
    return new WorkerOptions(
        Device.cpu(), 8, 20, 64, 1, Optional.empty(), List.of(), 8L << 20, 3 << 20, "local");
  }

  public WorkerOptions withBatching(int batch, long delayMillis, int queue) {
    return new WorkerOptions(
        device,
        batch,
        delayMillis,
        queue,
        computeThreads,
        outputRoot,
        inputRoots,
        maxReferenceBytes,
        chunkBytes,
        workerName);
  }

  public WorkerOptions withRoots(Optional<Path> output, List<Path> inputs) {
    return new WorkerOptions(
        device,
        maxBatch,
        maxQueueDelayMillis,
        maxQueue,
        computeThreads,
        output,
        inputs,
        maxReferenceBytes,
        chunkBytes,
        workerName);
  }

  public WorkerOptions withChunkBytes(int bytes) {
    return new WorkerOptions(
        device,
        maxBatch,
        maxQueueDelayMillis,
        maxQueue,
        computeThreads,
        outputRoot,
        inputRoots,
        maxReferenceBytes,
        bytes,
        workerName);
  }
}
