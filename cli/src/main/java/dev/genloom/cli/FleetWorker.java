package dev.genloom.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One worker process of a local fleet: {@code genloom worker} in its own JVM on a fixed loopback
 * port, serving latency doubles. It can be killed (SIGKILL, no drain) and started again on the same
 * port, as a crashed and rescheduled pod would be.
 */
final class FleetWorker implements AutoCloseable {
  private final int index;
  private final int port;
  private final List<String> command;
  private Process process;
  private CompletableFuture<Void> ready;

  FleetWorker(int index, int port, Path models, long stepMs, int maxBatch) {
    this(index, port, models, stepMs, maxBatch, 0);
  }

  FleetWorker(int index, int port, Path models, long stepMs, int maxBatch, int drainSeconds) {
    this.index = index;
    this.port = port;
    this.command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(
        List.of(
            "-Xmx96m",
            "-Xss512k",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:CICompilerCount=1",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            System.getProperty("java.class.path"),
            Genloom.class.getName(),
            "worker",
            "--models",
            models.toString(),
            "--port",
            Integer.toString(port),
            "--latency-double-step-ms",
            Long.toString(stepMs),
            "--max-batch",
            Integer.toString(maxBatch),
            "--max-queue-delay-ms",
            "20",
            "--max-queue",
            "4096",
            "--threads",
            "1",
            "--drain-seconds",
            Integer.toString(drainSeconds),
            "--metrics-port",
            "-1",
            "--name",
            "w" + index));
  }

  /** Starts the process; {@link #awaitReady} waits for its health to be SERVING. */
  synchronized void start() throws IOException {
    process = new ProcessBuilder(command).redirectErrorStream(true).start();
    CompletableFuture<Void> started = new CompletableFuture<>();
    ready = started;
    Process p = process;
    Thread reader =
        new Thread(
            () -> {
              StringBuilder tail = new StringBuilder();
              try (BufferedReader lines =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                  if (line.startsWith("ready:")) {
                    started.complete(null);
                  } else if (!started.isDone()) {
                    tail.append(line).append('\n');
                  }
                }
              } catch (IOException e) {
                // the process is gone; the future below says so
              }
              started.completeExceptionally(
                  new IllegalStateException("worker w" + index + " exited before ready:\n" + tail));
            },
            "fleet-worker-" + index);
    reader.setDaemon(true);
    reader.start();
  }

  void awaitReady(long seconds) throws Exception {
    ready.get(seconds, TimeUnit.SECONDS);
  }

  /** SIGKILL: in-flight calls die with it, nothing is drained. */
  synchronized void kill() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /** SIGTERM: the worker drains (finishes in-flight work, refuses new work), then exits. */
  synchronized void terminate() {
    process.destroy();
  }

  /** Waits for the process to end; its exit code, or -1 if it is still running. */
  int awaitExit(long seconds) throws InterruptedException {
    Process p;
    synchronized (this) {
      p = process;
    }
    return p.waitFor(seconds, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }

  int port() {
    return port;
  }

  String address() {
    return "127.0.0.1:" + port;
  }

  @Override
  public void close() throws InterruptedException {
    kill();
  }
}
