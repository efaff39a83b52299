package dev.genloom.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.bench.FleetWorker;
import dev.genloom.pipelines.testing.RunAudit;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code genloom run --runner FlinkRunner --flinkMaster localhost:PORT} against a real Flink
 * session cluster on loopback (a JobManager and two TaskManagers, each its own JVM). One
 * TaskManager is SIGKILLed mid-run: Flink restarts the job, the restarted tasks find the items
 * already recorded, and every item is written exactly once.
 */
class FlinkClusterTest {
  @TempDir Path temp;

  /** The pipelines classes as the runner stages them (the TaskManagers load parent-first). */
  private static String pipelinesClasses() {
    for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      if (entry.contains("genloom-pipelines") || entry.endsWith("pipelines/target/classes")) {
        return entry;
      }
    }
    throw new IllegalStateException("the pipelines module is not on the test classpath");
  }

  private static long recorded(Path records) throws Exception {
    if (!Files.isDirectory(records)) {
      return 0;
    }
    try (Stream<Path> files = Files.list(records)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".json")).count();
    }
  }

  @Test
  void aJobOnARealClusterSurvivesAKilledTaskManagerAndWritesEveryItemOnce() throws Exception {
    Path models = Files.createDirectories(temp.resolve("models"));
    Files.createSymbolicLink(
        models.resolve("tiny-ldm"),
        Path.of("..", "models", "tiny-ldm").toAbsolutePath().normalize());
    StringBuilder prompts = new StringBuilder();
    String[] colors = {"red", "green", "blue", "yellow", "white", "black", "purple", "orange"};
    for (int i = 0; i < 40; i++) {
      prompts
          .append("a ")
          .append(colors[i % 8])
          .append(i < 16 ? " circle" : i < 32 ? " square" : " triangle")
          .append(" on a ")
          .append(colors[(i + 3 + i / 8) % 8])
          .append(" background\n");
    }
    Path promptFile = Files.writeString(temp.resolve("prompts.txt"), prompts.toString());
    Path out = temp.resolve("out");
    // a labelled latency double: 20 ms per step, so the run lasts long enough to kill into
    try (FleetWorker worker =
            new FleetWorker(BenchFleetCommand.LAUNCH, 0, FlinkCluster.freePort(), models, 20, 8);
        FlinkCluster cluster = FlinkCluster.start(temp.resolve("flink"), 2, 2, 180)) {
      worker.start();
      worker.awaitReady(120);
      StringWriter console = new StringWriter();
      StringWriter errors = new StringWriter();
      CompletableFuture<Integer> run =
          CompletableFuture.supplyAsync(
              () -> {
                CommandLine cli = Genloom.commandLine();
                cli.setOut(new PrintWriter(console, true));
                cli.setErr(new PrintWriter(errors, true));
                return cli.execute(
                    "run",
                    "--prompts",
                    promptFile.toString(),
                    "--out",
                    out.toString(),
                    "--workers",
                    worker.address(),
                    "--runner",
                    "FlinkRunner",
                    "--batch-size",
                    "4",
                    "--flinkMaster=" + cluster.master(),
                    "--parallelism=2",
                    "--filesToStage=" + pipelinesClasses());
              });
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
      while (recorded(out.resolve("records")) < 8 && !run.isDone()) {
        assertTrue(System.nanoTime() < deadline, "no progress: " + console + errors);
        cluster.taskManager(0).waitFor(50, TimeUnit.MILLISECONDS);
      }
      long before = recorded(out.resolve("records"));
      assertTrue(before < 40, "the job finished before a TaskManager could be killed");
      cluster.taskManager(0).destroyForcibly(); // SIGKILL
      assertTrue(cluster.taskManager(0).waitFor(30, TimeUnit.SECONDS));
      int code = run.get(5, TimeUnit.MINUTES);
      String text = console.toString();
      assertEquals(0, code, text + errors);
      assertTrue(
          cluster.log("jobmanager").contains("RESTARTING"),
          "Flink restarted the job after the TaskManager died");
      Matcher counts = Pattern.compile("40 items: (\\d+) generated, (\\d+) skipped").matcher(text);
      assertTrue(counts.find(), text);
      assertTrue(
          Long.parseLong(counts.group(2)) >= before,
          "the restarted tasks skip what was recorded before the kill: " + text);
    }
    RunAudit.of(out).requireExactlyOnce(40, 40);
    assertEquals(40, recorded(out.resolve("records")), "one record per item");
  }
}
