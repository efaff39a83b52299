package dev.genloom.pipelines;

/** Waits before a retry: {@code Thread::sleep} in a pipeline, a recorder in tests. */
@FunctionalInterface
interface Sleeper {
  void sleep(long millis) throws InterruptedException;
}
