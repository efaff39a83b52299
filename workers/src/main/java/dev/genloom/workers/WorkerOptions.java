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
 * @param maxPromptChars longest prompt or negative prompt accepted, in characters
 * @param workerName reported in results (host:port or pod name)
 * @param memoryLimitBytes the most bytes of model weights the worker takes on (the component files
 *     of its packages, which is what they occupy once loaded); 0 for no limit
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
    int maxPromptChars,
    String workerName,
    long memoryLimitBytes) {

  public WorkerOptions {
    inputRoots = List.copyOf(inputRoots);
    if (maxPromptChars < 1) {
      throw new IllegalArgumentException("max-prompt-chars must be >= 1, got " + maxPromptChars);
    }
    if (memoryLimitBytes < 0) {
      throw new IllegalArgumentException("memory-limit must be >= 0, got " + memoryLimitBytes);
    }
    if (maxBatch < 1 || maxQueue < 1 || computeThreads < 1 || maxQueueDelayMillis < 0) {
      throw new IllegalArgumentException(
          "max-batch, max-queue and threads must be >= 1, delay >= 0");
    }
  }

  /** Longest prompt accepted by default: far beyond any text encoder's window, far below abuse. */
  public static final int DEFAULT_MAX_PROMPT_CHARS = 4096;

  /** Defaults for tests and the embedded worker. */
  public static WorkerOptions defaults() {
    return new WorkerOptions(
        Device.cpu(),
        8,
        20,
        64,
        1,
        Optional.empty(),
        List.of(),
        8L << 20,
        3 << 20,
        DEFAULT_MAX_PROMPT_CHARS,
        "local",
        0L);
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
        maxPromptChars,
        workerName,
        memoryLimitBytes);
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
        maxPromptChars,
        workerName,
        memoryLimitBytes);
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
        maxPromptChars,
        workerName,
        memoryLimitBytes);
  }

  public WorkerOptions withMaxPromptChars(int chars) {
    return new WorkerOptions(
        device,
        maxBatch,
        maxQueueDelayMillis,
        maxQueue,
        computeThreads,
        outputRoot,
        inputRoots,
        maxReferenceBytes,
        chunkBytes,
        chars,
        workerName,
        memoryLimitBytes);
  }

  public WorkerOptions withMemoryLimit(long bytes) {
    return new WorkerOptions(
        device,
        maxBatch,
        maxQueueDelayMillis,
        maxQueue,
        computeThreads,
        outputRoot,
        inputRoots,
        maxReferenceBytes,
        chunkBytes,
        maxPromptChars,
        workerName,
        bytes);
  }
}
