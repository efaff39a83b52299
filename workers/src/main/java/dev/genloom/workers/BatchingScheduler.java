package dev.genloom.workers;

import dev.genloom.generators.GeneratedMedia;
import dev.genloom.generators.GenerationCancelledException;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.ProgressListener;
import dev.genloom.generators.RgbImage;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Dynamic batching with bounded admission. Requests wait in one FIFO queue of at most {@code
 * maxQueue}; a compute thread takes the oldest request and, until {@code maxDelay} after that
 * request arrived, gathers up to {@code maxBatch} compatible ones (same generator and {@link
 * GenerationSpec#batchKey()}) into one batched generation.
 */
final class BatchingScheduler implements AutoCloseable {
  /** What the scheduler reports back for one request. */
  interface Listener {
    void progress(int step, int total, Supplier<RgbImage> preview);

    void done(GeneratedMedia media, long queueNanos, long computeNanos);

    void failed(RuntimeException error);

    boolean cancelled();
  }

  record Job(Generator generator, GenerationSpec spec, Listener listener, long enqueuedNanos) {}

  private final int maxQueue;
  private final int maxBatch;
  private final long maxDelayNanos;
  private final Deque<Job> pending = new ArrayDeque<>();
  private final List<Thread> threads = new ArrayList<>();
  private final WorkerMetrics metrics;
  private int running;
  private boolean closed;

  BatchingScheduler(
      int maxQueue, int maxBatch, long maxDelayMillis, int computeThreads, WorkerMetrics metrics) {
    if (maxQueue < 1 || maxBatch < 1 || maxDelayMillis < 0 || computeThreads < 1) {
      throw new IllegalArgumentException("scheduler limits must be positive");
    }
    this.maxQueue = maxQueue;
    this.maxBatch = maxBatch;
    this.maxDelayNanos = TimeUnit.MILLISECONDS.toNanos(maxDelayMillis);
    this.metrics = metrics;
    for (int i = 0; i < computeThreads; i++) {
      Thread thread = new Thread(this::loop, "genloom-compute-" + i);
      thread.setDaemon(true);
      threads.add(thread);
      thread.start();
    }
  }

  /** Queues a job. Returns its position (0 = next), or -1 when the queue is full or closed. */
  synchronized int submit(Job job) {
    if (closed || pending.size() >= maxQueue) {
      return -1;
    }
    pending.addLast(job);
    metrics.queueDepth(pending.size());
    notifyAll();
    return pending.size() - 1;
  }

  /**
   * Queues jobs together, all or none (a GenerateBatch call), so compatible ones can share one
   * forward. Returns their positions, or null when the queue cannot take them all or is closed.
   */
  synchronized int[] submitAll(List<Job> jobs) {
    if (closed || pending.size() + jobs.size() > maxQueue) {
      return null;
    }
    int[] positions = new int[jobs.size()];
    for (int i = 0; i < jobs.size(); i++) {
      pending.addLast(jobs.get(i));
      positions[i] = pending.size() - 1;
    }
    metrics.queueDepth(pending.size());
    notifyAll();
    return positions;
  }

  /** Removes a still-queued job at once (its caller went away); running jobs stop between steps. */
  synchronized void cancel(Job job) {
    if (pending.remove(job)) {
      metrics.queueDepth(pending.size());
      job.listener().failed(new GenerationCancelledException(0, job.spec().steps()));
      notifyAll();
    }
  }

  /** Waits until nothing is queued or running; false on timeout. */
  synchronized boolean awaitIdle(long timeoutMillis) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (!pending.isEmpty() || running > 0) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  synchronized int queued() {
    return pending.size();
  }

  synchronized int running() {
    return running;
  }

  private void loop() {
    while (true) {
      List<Job> batch;
      try {
        batch = nextBatch();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (batch == null) {
        return;
      }
      try {
        run(batch);
      } finally {
        synchronized (this) {
          running -= batch.size();
          notifyAll();
        }
      }
    }
  }

  private synchronized List<Job> nextBatch() throws InterruptedException {
    while (true) {
      dropCancelled();
      if (pending.isEmpty()) {
        if (closed) {
          return null;
        }
        wait();
        continue;
      }
      Job head = pending.peekFirst();
      long deadline = head.enqueuedNanos() + maxDelayNanos;
      long now = System.nanoTime();
      if (compatible(head) < maxBatch && now < deadline && !closed) {
        TimeUnit.NANOSECONDS.timedWait(this, deadline - now);
        continue;
      }
      List<Job> batch = new ArrayList<>();
      for (Iterator<Job> it = pending.iterator(); it.hasNext() && batch.size() < maxBatch; ) {
        Job job = it.next();
        if (sameBatch(head, job)) {
          batch.add(job);
          it.remove();
        }
      }
      running += batch.size();
      metrics.queueDepth(pending.size());
      return batch;
    }
  }

  private void dropCancelled() {
    for (Iterator<Job> it = pending.iterator(); it.hasNext(); ) {
      Job job = it.next();
      if (job.listener().cancelled()) {
        it.remove();
        job.listener().failed(new GenerationCancelledException(0, job.spec().steps()));
      }
    }
  }

  private int compatible(Job head) {
    int n = 0;
    for (Job job : pending) {
      if (sameBatch(head, job)) {
        n++;
      }
    }
    return n;
  }

  private static boolean sameBatch(Job a, Job b) {
    return a.generator() == b.generator() && a.spec().batchKey().equals(b.spec().batchKey());
  }

  private void run(List<Job> batch) {
    long start = System.nanoTime();
    List<GenerationSpec> specs = batch.stream().map(Job::spec).toList();
    ProgressListener progress =
        new ProgressListener() {
          @Override
          public void onStep(int step, int total, Supplier<RgbImage> preview) {
            for (Job job : batch) {
              job.listener().progress(step, total, preview);
            }
          }

          @Override
          public boolean cancelled() {
            return batch.stream().allMatch(job -> job.listener().cancelled());
          }
        };
    try {
      List<GeneratedMedia> results = batch.get(0).generator().generate(specs, progress);
      long compute = System.nanoTime() - start;
      metrics.batch(batch.size(), compute);
      for (int i = 0; i < batch.size(); i++) {
        Job job = batch.get(i);
        job.listener().done(results.get(i), start - job.enqueuedNanos(), compute);
      }
    } catch (RuntimeException e) {
      for (Job job : batch) {
        job.listener().failed(e);
      }
    }
  }

  /** Stops taking jobs; queued and running jobs finish first. */
  @Override
  public void close() throws InterruptedException {
    synchronized (this) {
      closed = true;
      notifyAll();
    }
    for (Thread thread : threads) {
      thread.join();
    }
  }
}
