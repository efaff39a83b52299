package dev.genloom.pipelines;

import io.grpc.Status;
import java.io.Serializable;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongUnaryOperator;

/**
 * When a failed call is tried again, and after how long: the one place retry decides. An item gets
 * {@code maxAttempts} calls in all. A retry follows UNAVAILABLE, CANCELLED (the pipeline never
 * cancels its own calls, so it means the worker went away mid-call), RESOURCE_EXHAUSTED and
 * DEADLINE_EXCEEDED (gRPC's own retry buffer is too small for image payloads); any other status
 * fails the item. Before retry {@code n} (0-based) the caller waits a uniformly drawn time in
 * {@code [0, min(30 s, initialBackoffMillis * 2^n)]} (exponential backoff with full jitter); the
 * policy draws the wait, the caller waits it through its {@link Sleeper}, so tests can run without
 * real sleeps.
 */
final class RetryPolicy implements Serializable {
  private static final long serialVersionUID = 1L;
  static final long MAX_BACKOFF_MILLIS = 30_000L;
  private static final Set<Status.Code> RETRYABLE =
      Set.of(
          Status.Code.UNAVAILABLE,
          Status.Code.CANCELLED,
          Status.Code.RESOURCE_EXHAUSTED,
          Status.Code.DEADLINE_EXCEEDED);

  /** Draws the wait in [0, cap]; the real one draws uniformly. */
  interface Jitter extends Serializable, LongUnaryOperator {}

  private final int maxAttempts;
  private final int initialBackoffMillis;
  private final Jitter jitter;

  private RetryPolicy(int maxAttempts, int initialBackoffMillis, Jitter jitter) {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("max-attempts: must be >= 1, got " + maxAttempts);
    }
    if (initialBackoffMillis < 0) {
      throw new IllegalArgumentException(
          "initial-backoff-millis: must be >= 0, got " + initialBackoffMillis);
    }
    this.maxAttempts = maxAttempts;
    this.initialBackoffMillis = initialBackoffMillis;
    this.jitter = jitter;
  }

  /** Uniform jitter. */
  static RetryPolicy of(int maxAttempts, int initialBackoffMillis) {
    return new RetryPolicy(
        maxAttempts, initialBackoffMillis, cap -> ThreadLocalRandom.current().nextLong(cap + 1));
  }

  /** The same policy drawing its waits through {@code jitter}. */
  RetryPolicy with(Jitter jitter) {
    return new RetryPolicy(maxAttempts, initialBackoffMillis, jitter);
  }

  int maxAttempts() {
    return maxAttempts;
  }

  boolean retryable(Status.Code code) {
    return RETRYABLE.contains(code);
  }

  /** Whether the worker should sit out its cool-down after {@code code}: it is down or gone. */
  boolean workerDown(Status.Code code) {
    return code == Status.Code.UNAVAILABLE || code == Status.Code.CANCELLED;
  }

  /** The longest wait before retry {@code retry} (0-based). */
  long capMillis(int retry) {
    return Math.min(MAX_BACKOFF_MILLIS, (long) initialBackoffMillis << Math.min(retry, 16));
  }

  /** How long to wait before retry {@code retry} (0-based): a draw in [0, its cap]. */
  long backoffMillis(int retry) {
    long cap = capMillis(retry);
    return Math.max(0, Math.min(cap, jitter.applyAsLong(cap)));
  }
}
