package dev.genloom.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.pipelines.testing.RunAudit;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code genloom run} as a user meets it: exit codes and counts, strict options, paths relative to
 * the caller's folder, and a driver killed with SIGKILL mid-run that resumes where it stopped.
 */
class RunCommandTest {
  private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
  @TempDir Path temp;

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int genloom(String... args) {
    out.getBuffer().setLength(0);
    err.getBuffer().setLength(0);
    CommandLine cli = Genloom.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    return cli.execute(args);
  }

  private Path models() throws IOException {
    Path models = Files.createDirectories(temp.resolve("models"));
    if (!Files.exists(models.resolve("tiny-ldm"))) {
      Files.createSymbolicLink(models.resolve("tiny-ldm"), REPO.resolve("models/tiny-ldm"));
    }
    return models;
  }

  private static String prompts(int count) {
    String[] colors = {"red", "green", "blue", "yellow", "white", "black", "purple", "orange"};
    String[] shapes = {"circle", "square", "triangle"};
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < count; i++) {
      text.append("a ")
          .append(colors[i % 8])
          .append(' ')
          .append(shapes[(i / 8) % 3])
          .append(" on a ")
          .append(colors[(i + 3 + i / 8) % 8])
          .append(" background\n");
    }
    return text.toString();
  }

  @Test
  void failedItemsMakeTheExitCodeNonZeroUnlessAllowed() throws Exception {
    Path prompts = temp.resolve("p.jsonl");
    Files.writeString(
        prompts,
        "{\"prompt\": \"a red circle on a blue background\"}\n"
            + "{\"prompt\": \"a green square\", \"reference_image\": \"missing.png\"}\n"
            + "not json\n");
    String[] args = {
      "run",
      "--models",
      models().toString(),
      "--prompts",
      prompts.toString(),
      "--out",
      temp.resolve("o").toString(),
      "--steps-are-not-an-option-here"
    };
    assertEquals(2, genloom(args), "an unknown kebab option is a usage error: " + err);
    List<String> run = new ArrayList<>(List.of(args).subList(0, 7));
    assertEquals(3, genloom(run.toArray(String[]::new)), out + "\n" + err);
    assertTrue(out.toString().contains("2 items: 1 generated, 0 skipped"), out.toString());
    assertTrue(out.toString().contains("1 failed; 1 input(s) dead-lettered"), out.toString());
    assertTrue(err.toString().contains("--allow-failures"), err.toString());
    run.add("--allow-failures");
    assertEquals(0, genloom(run.toArray(String[]::new)), out + "\n" + err);
    assertTrue(
        out.toString().contains("2 items: 0 generated, 1 skipped (finished earlier), 1 failed"),
        "the resumed run counts the finished item as skipped: " + out);
  }

  @Test
  void camelCaseOptionsUnknownModelsAndAnUnreachableFleetAreUsageErrors() throws Exception {
    Path prompts = Files.writeString(temp.resolve("p.txt"), "a red circle\n");
    String[] base = {
      "run",
      "--models",
      models().toString(),
      "--prompts",
      prompts.toString(),
      "--out",
      temp.resolve("o").toString()
    };
    assertEquals(2, genloom(concat(base, "--maxAttempts=3")));
    assertTrue(err.toString().contains("--max-attempts"), err.toString());
    assertEquals(2, genloom(concat(base, "--model", "nope")));
    assertTrue(err.toString().contains("'nope'"), err.toString());
    assertTrue(err.toString().contains("they serve [tiny-ldm]"), err.toString());
    long start = System.nanoTime();
    assertEquals(2, genloom(concat(base, "--workers", "127.0.0.1:1")));
    assertTrue(err.toString().contains("127.0.0.1:1"), err.toString());
    assertTrue(err.toString().contains("connection refused"), err.toString());
    assertTrue(
        System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20),
        "a fleet that is down fails in seconds");
    assertFalse(Files.exists(temp.resolve("o/manifest.jsonl")), "nothing ran");
  }

  private static String[] concat(String[] a, String... b) {
    return Stream.concat(Stream.of(a), Stream.of(b)).toArray(String[]::new);
  }

  /** The CLI in its own JVM, run from {@code folder}, as the launcher runs it. */
  private ProcessBuilder process(Path folder, Path log, String... args) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Dgenloom.home=" + REPO);
    command.add("-Dai.djl.offline=true");
    command.add("-Dai.djl.pytorch.num_threads=1");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(Genloom.class.getName());
    command.addAll(List.of(args));
    return new ProcessBuilder(command)
        .directory(folder.toFile())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
  }

  private static long finished(Path records) throws IOException {
    if (!Files.isDirectory(records)) {
      return 0;
    }
    try (Stream<Path> files = Files.list(records)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".json")).count();
    }
  }

  /**
   * Item 1 of the batch-job contract, with real processes: the driver (with its in-process worker)
   * is SIGKILLed once at least 16 of 40 items are on disk; the same command, run again from the
   * same folder with relative paths, generates only the rest.
   */
  @Test
  void aDriverKilledMidRunResumesAndWritesEveryItemExactlyOnce() throws Exception {
    Path folder = Files.createDirectories(temp.resolve("work"));
    Files.writeString(folder.resolve("prompts.txt"), prompts(20));
    Path models = models();
    String[] args = {
      "run",
      "--models",
      models.toString(),
      "--prompts",
      "prompts.txt",
      "--out",
      "o",
      "--seeds",
      "2",
      "--batch-size",
      "4",
      "--max-in-flight",
      "4"
    };
    Process first = process(folder, temp.resolve("first.log"), args).start();
    Path records = folder.resolve("o/records");
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (finished(records) < 16 && first.isAlive() && System.nanoTime() < deadline) {
      first.waitFor(20, TimeUnit.MILLISECONDS);
    }
    assertTrue(first.isAlive(), "the first run ended before it could be killed: " + log("first"));
    first.destroyForcibly(); // SIGKILL
    assertTrue(first.waitFor(60, TimeUnit.SECONDS));
    long done = finished(records);
    assertTrue(done >= 16 && done < 40, "killed after " + done + " of 40");
    assertFalse(Files.exists(folder.resolve("o/manifest.jsonl")), "the manifest comes at the end");

    Process second = process(folder, temp.resolve("second.log"), args).start();
    assertTrue(second.waitFor(5, TimeUnit.MINUTES), "the rerun finished");
    String log = log("second");
    assertEquals(0, second.exitValue(), log);
    Matcher counts = Pattern.compile("40 items: (\\d+) generated, (\\d+) skipped").matcher(log);
    assertTrue(counts.find(), log);
    assertEquals(done, Long.parseLong(counts.group(2)), "every finished item skipped: " + log);
    assertEquals(40 - done, Long.parseLong(counts.group(1)), "only the rest generated: " + log);
    assertFalse(log.contains("\r"), "plain progress lines when the output is not a terminal");
    assertFalse(log.contains("Failed to match temporary files"), log);
    assertTrue(log.contains("manifest:    o/manifest.jsonl"), "paths as the user wrote them");

    RunAudit.of(folder.resolve("o")).requireExactlyOnce(40, 40);
    assertEquals(40, finished(records));
    assertFalse(Files.exists(REPO.resolve("o")), "nothing written inside the checkout");
  }

  private String log(String name) throws IOException {
    return Files.readString(temp.resolve(name + ".log"), StandardCharsets.UTF_8);
  }
}
