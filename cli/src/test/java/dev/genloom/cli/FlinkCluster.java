package dev.genloom.cli;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Flink session cluster on loopback, each process its own JVM, started from Flink's own entry
 * points in flink-runtime (the version the Beam Flink runner pulls in): one JobManager ({@code
 * StandaloneSessionClusterEntrypoint}) and N TaskManagers ({@code TaskManagerRunner}), with the
 * test's classpath (so job classes load parent-first), a fixed-delay restart strategy and short
 * heartbeats, so that a killed TaskManager is noticed in seconds.
 */
final class FlinkCluster implements AutoCloseable {
  private final Path folder;
  private final int restPort;
  private final Process jobManager;
  private final List<Process> taskManagers = new ArrayList<>();

  private FlinkCluster(Path folder, int restPort, Process jobManager) {
    this.folder = folder;
    this.restPort = restPort;
    this.jobManager = jobManager;
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  /** Starts the cluster and waits (at most {@code seconds}) until every TaskManager registered. */
  static FlinkCluster start(Path folder, int taskManagers, int slots, long seconds)
      throws Exception {
    Path conf = Files.createDirectories(folder.resolve("conf"));
    int restPort = freePort();
    int rpcPort = freePort();
    Files.writeString(
        conf.resolve("flink-conf.yaml"),
        String.join(
            "\n",
            "jobmanager.rpc.address: localhost",
            "jobmanager.bind-host: localhost",
            "jobmanager.rpc.port: " + rpcPort,
            "rest.address: localhost",
            "rest.bind-address: localhost",
            "rest.port: " + restPort,
            "blob.server.port: 0",
            "taskmanager.host: localhost",
            "taskmanager.bind-host: localhost",
            "taskmanager.rpc.port: 0",
            "taskmanager.data.port: 0",
            "taskmanager.numberOfTaskSlots: " + slots,
            // what Flink's start scripts would compute and pass: explicit, small sizes
            "taskmanager.cpu.cores: 2",
            "taskmanager.memory.framework.heap.size: 128m",
            "taskmanager.memory.task.heap.size: 256m",
            "taskmanager.memory.managed.size: 32m",
            "taskmanager.memory.network.min: 256m",
            "taskmanager.memory.network.max: 256m",
            "taskmanager.memory.framework.off-heap.size: 128m",
            "taskmanager.memory.task.off-heap.size: 0m",
            "taskmanager.memory.jvm-metaspace.size: 256m",
            "taskmanager.memory.jvm-overhead.min: 64m",
            "taskmanager.memory.jvm-overhead.max: 64m",
            "jobmanager.memory.process.size: 1024m",
            "cluster.evenly-spread-out-slots: true",
            "heartbeat.interval: 1000",
            "heartbeat.timeout: 5000",
            "restart-strategy.type: fixed-delay",
            "restart-strategy.fixed-delay.attempts: 20",
            "restart-strategy.fixed-delay.delay: 1 s",
            "classloader.resolve-order: parent-first",
            "io.tmp.dirs: " + Files.createDirectories(folder.resolve("tmp")),
            ""));
    Process jm =
        java(
                folder,
                "jobmanager",
                "-Xmx384m",
                "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
                conf)
            .start();
    FlinkCluster cluster = new FlinkCluster(folder, restPort, jm);
    for (int i = 0; i < taskManagers; i++) {
      cluster.taskManagers.add(
          java(
                  folder,
                  "taskmanager-" + i,
                  "-Xmx400m",
                  "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
                  conf)
              .start());
    }
    cluster.awaitTaskManagers(taskManagers, seconds);
    return cluster;
  }

  private static ProcessBuilder java(
      Path folder, String name, String heap, String mainClass, Path conf) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(
        List.of(
            heap,
            "-XX:MaxDirectMemorySize=512m",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
            "-cp",
            System.getProperty("java.class.path"),
            mainClass,
            "--configDir",
            conf.toString()));
    return new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(folder.resolve(name + ".log").toFile());
  }

  /** The address {@code --flinkMaster} takes. */
  String master() {
    return "localhost:" + restPort;
  }

  Process taskManager(int index) {
    return taskManagers.get(index);
  }

  String log(String name) throws IOException {
    return Files.readString(folder.resolve(name + ".log"));
  }

  private int registeredTaskManagers() {
    try {
      String body =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create("http://localhost:" + restPort + "/taskmanagers"))
                      .timeout(Duration.ofSeconds(5))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      Matcher m = Pattern.compile("\"slotsNumber\"").matcher(body);
      int n = 0;
      while (m.find()) {
        n++;
      }
      return n;
    } catch (IOException e) {
      return 0; // not listening yet
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 0;
    }
  }

  private void awaitTaskManagers(int count, long seconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (registeredTaskManagers() < count) {
      if (System.nanoTime() > deadline || !jobManager.isAlive()) {
        throw new IllegalStateException(
            "the Flink cluster did not come up with "
                + count
                + " TaskManagers; JobManager log:\n"
                + log("jobmanager"));
      }
      jobManager.waitFor(200, TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public void close() throws InterruptedException {
    for (Process p : taskManagers) {
      p.destroyForcibly();
    }
    jobManager.destroyForcibly();
    for (Process p : taskManagers) {
      p.waitFor(30, TimeUnit.SECONDS);
    }
    jobManager.waitFor(30, TimeUnit.SECONDS);
  }
}
