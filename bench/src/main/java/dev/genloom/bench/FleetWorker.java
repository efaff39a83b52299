package dev.genloom.bench;

import dev.genloom.generators.Generator;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.testing.LatencyDouble;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * One worker process of a local fleet: a worker in its own JVM on a fixed loopback port, serving
 * latency doubles. It can be killed (SIGKILL, no drain) and started again on the same port, as a
 * crashed and rescheduled pod would be.
 */
public final class FleetWorker implements AutoCloseable {
  /**
   * How to start a worker process that serves {@link #latencyDoubles}: a main class on this JVM's
   * class path, the arguments that select the worker, and then the worker's own options ({@code
   * --models}, {@code --port}, {@code --max-batch}, ...) and {@code --step-ms}.
   *
   * @param mainClass the class whose {@code main} runs the worker
   * @param arguments the arguments before the worker's options
   */
  public record Launch(String mainClass, List<String> arguments) {
    public Launch {
      arguments = List.copyOf(arguments);
    }
  }

  /** Generators for a fleet load test: every package a {@link LatencyDouble} of {@code stepMs}. */
  public static Function<ModelPackage, Generator> latencyDoubles(long stepMs) {
    return pkg -> new LatencyDouble(pkg, stepMs);
  }

  private final int index;
  private final int port;
  private final List<String> command;
  private Process process;
  private CompletableFuture<Void> ready;

  public FleetWorker(Launch launch, int index, int port, Path models, long stepMs, int maxBatch) {
    this(launch, index, port, models, stepMs, maxBatch, 0);
  }

  public FleetWorker(
      Launch launch,
      int index,
      int port,
      Path models,
      long stepMs,
      int maxBatch,
      int drainSeconds) {
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
            launch.mainClass()));
    command.addAll(launch.arguments());
    command.addAll(
        List.of(
            "--models",
            models.toString(),
            "--port",
            Integer.toString(port),
            "--step-ms",
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
  public synchronized void start() throws IOException {
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

  public void awaitReady(long seconds) throws Exception {
    ready.get(seconds, TimeUnit.SECONDS);
  }

  /** SIGKILL: in-flight calls die with it, nothing is drained. */
  public synchronized void kill() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /** SIGTERM: the worker drains (finishes in-flight work, refuses new work), then exits. */
  public synchronized void terminate() {
    process.destroy();
  }

  /** Waits for the process to end; its exit code, or -1 if it is still running. */
  public int awaitExit(long seconds) throws InterruptedException {
    Process p;
    synchronized (this) {
      p = process;
    }
    return p.waitFor(seconds, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }

  public int port() {
    return port;
  }

  public String address() {
    return "127.0.0.1:" + port;
  }

  @Override
  public void close() throws InterruptedException {
    kill();
  }
}
