package dev.genloom.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.genloom.evaluation.RunMetrics;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * A package exported from a diffusers pipeline (the random-weight fixtures) through the commands a
 * user runs: check, generate at a requested size or aspect ratio, calibrate and cache (UNet and
 * transformer block graphs), and a pipeline run that mixes the SD 1.5-, SD3- and Flux-shaped
 * fixtures at two sizes with tiny-ldm, then evaluation and the report.
 */
class BringYourOwnModelTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path MODELS = Path.of("..", "models");

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

  private void ok(String... args) {
    assertEquals(0, genloom(args), String.join(" ", args) + "\n" + out + "\n" + err);
  }

  private JsonNode lastJsonLine() throws Exception {
    String[] lines = out.toString().strip().split("\n");
    return JSON.readTree(lines[lines.length - 1]);
  }

  @Test
  void checkReplaysTheRecordedDiffusersRuns() {
    ok("models", "check", "--models", MODELS.toString(), "fixture-sd2-v");
    String text = out.toString();
    assertTrue(text.contains("all checks passed"), text);
    assertEquals(8, text.lines().filter(l -> l.contains(": ok sampling/")).count(), text);
  }

  @Test
  void generatesAtARequestedSizeOrAspectRatio(@TempDir Path dir) throws Exception {
    Path wide = dir.resolve("wide.png");
    ok(
        "generate",
        "--models",
        MODELS.toString(),
        "--model",
        "fixture-sdxl",
        "--prompt",
        "a lighthouse at dusk",
        "--width",
        "96",
        "--height",
        "64",
        "--steps",
        "2",
        "--out",
        wide.toString(),
        "--json");
    assertEquals(96, lastJsonLine().get("width").asInt());
    BufferedImage image = ImageIO.read(wide.toFile());
    assertEquals(96, image.getWidth());
    assertEquals(64, image.getHeight());
    Path tall = dir.resolve("tall.png");
    ok(
        "generate",
        "--models",
        MODELS.toString(),
        "--model",
        "fixture-sdxl",
        "--prompt",
        "a lighthouse at dusk",
        "--aspect-ratio",
        "1:2",
        "--steps",
        "2",
        "--sampler",
        "euler_a",
        "--out",
        tall.toString());
    image = ImageIO.read(tall.toFile());
    assertEquals(64, image.getWidth());
    assertEquals(128, image.getHeight());
    assertEquals(
        2,
        genloom(
            "generate",
            "--models",
            MODELS.toString(),
            "--model",
            "fixture-sdxl",
            "--prompt",
            "x",
            "--width",
            "100",
            "--height",
            "64",
            "--out",
            dir.resolve("bad.png").toString()));
    assertTrue(err.toString().contains("width: 100x64 is not a multiple of 32"), err.toString());
  }

  /**
   * On a UNet (SD 1.5-shaped), an MMDiT (SD3-shaped, joint blocks) and a Flux graph (double- then
   * single-stream blocks, two stacks).
   */
  @ParameterizedTest
  @ValueSource(strings = {"fixture-sd15", "fixture-sd3", "fixture-flux"})
  void calibratedAndDynamicCachingRunOnAFixture(String fixture, @TempDir Path dir)
      throws Exception {
    Path models = Files.createDirectories(dir.resolve("models"));
    copy(MODELS.resolve(fixture), models.resolve(fixture));
    Path prompts = dir.resolve("prompts.txt");
    Files.writeString(
        prompts, "a red cube on a table\na lighthouse at dusk\na cat in the snow\na blue car\n");
    ok(
        "models",
        "calibrate",
        "--models",
        models.toString(),
        "--model",
        fixture,
        "--sampler",
        "euler",
        "--steps",
        "6",
        "--prompts",
        prompts.toString(),
        "--seeds",
        "1",
        "--deltas",
        "0.1,0.5",
        "--default-delta",
        "0.5",
        "--batch",
        "4");
    assertTrue(out.toString().contains("delta 0.5"), out.toString());
    // calibration measured each schedule against uncached, and the package shows the table
    assertTrue(out.toString().contains("PSNR dB"), out.toString());
    ok("models", "show", "--models", models.toString(), fixture);
    assertTrue(
        out.toString().contains("block caching, calibrated against uncached"), out.toString());
    for (String cache : List.of("auto", "fora:2", "teacache:0.5", "floor:psnr=1")) {
      ok(
          "generate",
          "--models",
          models.toString(),
          "--model",
          fixture,
          "--prompt",
          "a red cube on a table",
          "--sampler",
          "euler",
          "--steps",
          "6",
          "--cache",
          cache,
          "--out",
          dir.resolve(cache.replace(':', '-') + ".png").toString(),
          "--json");
      JsonNode line = lastJsonLine();
      assertTrue(line.get("block_skips").asLong() > 0, cache + ": " + line);
      assertEquals(cache, line.get("cache").asText().replace("auto:0.5", "auto"), line.toString());
      if (cache.startsWith("floor")) {
        // every calibrated schedule is above 1 dB: the floor picks one and says which
        assertTrue(
            line.get("cache_policy").asText().contains("for floor:psnr=1: calibrated"),
            line.toString());
      }
    }
  }

  @Test
  void aPipelineRunMixesThreeFixturesAtTwoSizesWithTinyLdm(@TempDir Path dir) throws Exception {
    Path prompts = dir.resolve("prompts.txt");
    Files.writeString(
        prompts, "a red circle on a white background\na blue square on a yellow background\n");
    Path grid = dir.resolve("grid.json");
    Files.writeString(
        grid,
        "[{\"models\": [\"fixture-sd15\", \"fixture-sd3\", \"fixture-flux\"], \"steps\": [3],"
            + " \"sizes\": [\"64x64\", \"96x64\"]},"
            + " {\"models\": [\"tiny-ldm\"], \"steps\": [3]}]");
    Path run = runOnce(prompts, grid, dir.resolve("run"));
    Map<String, int[]> sizes = new HashMap<>();
    for (String line : Files.readAllLines(run.resolve("manifest.jsonl"))) {
      JsonNode record = JSON.readTree(line);
      assertEquals("STATUS_OK", record.get("status").asText(), line);
      sizes.put(
          record.get("config").asText(),
          new int[] {record.get("width").asInt(), record.get("height").asInt()});
    }
    assertEquals(7, sizes.size(), sizes.keySet().toString());
    assertEquals(96, sizes.get("fixture-sd15_3_96x64")[0]);
    assertEquals(64, sizes.get("fixture-sd15_3_64x64")[0]);
    assertEquals(96, sizes.get("fixture-sd3_3_96x64")[0]);
    assertEquals(64, sizes.get("fixture-sd3_3_96x64")[1]);
    assertEquals(96, sizes.get("fixture-flux_3_96x64")[0]);
    assertEquals(32, sizes.get("tiny-ldm_3")[0]);
    ok("eval", "run", "--models", MODELS.toString(), "--run", run.toString());
    assertEquals(7, RunMetrics.read(run).configs().size());
    ok("report", "--run", run.toString());
    String html = Files.readString(run.resolve("report.html"));
    assertTrue(html.contains("fixture-sd15_3_96x64"), "the report names every configuration");
    assertTrue(html.contains("fixture-sd3_3_96x64"), "the report names every configuration");
    assertTrue(html.contains("fixture-flux_3_96x64"), "the report names every configuration");
  }

  @Test
  void aCogVideoXPackageWritesAnMp4AndAContactSheetAndRunsThroughEvalAndReport(@TempDir Path dir)
      throws Exception {
    Path video = dir.resolve("ball.mp4");
    ok(
        "generate",
        "--models",
        MODELS.toString(),
        "--model",
        "fixture-cogvideox",
        "--prompt",
        "a red ball rolls left",
        "--steps",
        "2",
        "--frames",
        "17",
        "--out",
        video.toString());
    assertTrue(Files.size(video) > 0, "the MP4 is written");
    BufferedImage sheet = ImageIO.read(dir.resolve("ball.png").toFile());
    assertTrue(sheet.getWidth() > 32, "a contact sheet of the frames");
    Path prompts = dir.resolve("prompts.txt");
    Files.writeString(prompts, "a red ball rolls left\na blue cube moves up\n");
    Path grid = dir.resolve("grid.json");
    Files.writeString(grid, "{\"models\": [\"fixture-cogvideox\"], \"steps\": [3]}");
    Path run = runOnce(prompts, grid, dir.resolve("run"));
    for (String line : Files.readAllLines(run.resolve("manifest.jsonl"))) {
      JsonNode record = JSON.readTree(line);
      assertEquals("STATUS_OK", record.get("status").asText(), line);
      assertTrue(record.get("media").asText().endsWith(".mp4"), line);
    }
    ok("eval", "run", "--models", MODELS.toString(), "--run", run.toString());
    RunMetrics metrics = RunMetrics.read(run);
    assertEquals(1, metrics.configs().size());
    assertTrue(metrics.configs().get(0).motion() != null, "videos are scored for motion");
    ok("report", "--run", run.toString());
    assertTrue(Files.readString(run.resolve("report.html")).contains("fixture-cogvideox"));
  }

  /** {@code genloom run} of every prompt with one seed over the grid, into {@code run}. */
  private Path runOnce(Path prompts, Path grid, Path run) {
    ok(
        "run",
        "--models",
        MODELS.toString(),
        "--prompts",
        prompts.toString(),
        "--grid",
        grid.toString(),
        "--seeds",
        "1",
        "--out",
        run.toString());
    return run;
  }

  private static void copy(Path source, Path target) throws Exception {
    try (Stream<Path> files = Files.walk(source)) {
      for (Path p : files.toList()) {
        Path t = target.resolve(source.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t);
        }
      }
    }
  }
}
