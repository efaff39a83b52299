package dev.genloom.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code bench cache} on the SD3-shaped fixture: FORA and the calibrated schedule skip joint blocks
 * and change the images measurably; the uncached baseline is itself; the shipped package is left as
 * it was (the calibration goes to a copy).
 */
class BenchCacheTest {
  private static final Path MODELS = Path.of("..", "models");

  @Test
  void foraAndTheCalibratedScheduleSkipJointBlocks(@TempDir Path temp) throws Exception {
    String manifestBefore = Files.readString(MODELS.resolve("fixture-sd3/manifest.json"));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = Genloom.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    Path json = temp.resolve("cache.json");
    int code =
        cli.execute(
            "bench", "cache",
            "--models", MODELS.toString(),
            "--model", "fixture-sd3",
            "--steps", "6",
            "--samples", "2",
            "--repeats", "1",
            "--policies", "none,fora:2,auto",
            "--prompts", Path.of("..", "examples", "calibration-prompts.txt").toString(),
            "--json", json.toString());
    assertEquals(0, code, out + "\n" + err);
    JsonNode result = new ObjectMapper().readTree(json.toFile());
    JsonNode none = result.get("rows").get(0);
    assertEquals(0, none.get("block_skips").asLong(), none.toString());
    assertTrue(none.get("psnr_db").isNull(), "the baseline equals itself: " + none);
    for (int k = 1; k <= 2; k++) {
      JsonNode row = result.get("rows").get(k);
      assertTrue(row.get("block_skips").asLong() > 0, row.toString());
      assertEquals(
          none.get("block_evals").asLong(),
          row.get("block_evals").asLong() + row.get("block_skips").asLong(),
          "every block is either evaluated or skipped: " + row);
      double psnr = row.get("psnr_db").asDouble();
      assertTrue(psnr > 10 && psnr < 200, "skipping changes the images a little: " + row);
    }
    assertEquals(3, result.get("calibrated_skips").size(), result.toString());
    assertEquals(
        manifestBefore,
        Files.readString(MODELS.resolve("fixture-sd3/manifest.json")),
        "the calibration went to a copy");
    assertEquals(
        2,
        Genloom.commandLine()
            .execute(
                "bench",
                "cache",
                "--models",
                MODELS.toString(),
                "--model",
                "fixture-sd3",
                "--policies",
                "fora:2"));
  }
}
