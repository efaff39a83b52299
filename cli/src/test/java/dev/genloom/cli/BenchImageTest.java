package dev.genloom.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code bench image} on the SD3-shaped fixture: every component preloaded, a short warm-up, timed
 * images, the settings and memory in the JSON; a warm-up of no steps is refused by name.
 */
class BenchImageTest {
  private static final Path MODELS = Path.of("..", "models");

  @Test
  void timesImagesAfterAShortWarmUp(@TempDir Path temp) throws Exception {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = Genloom.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    Path json = temp.resolve("image.json");
    int code =
        cli.execute(
            "bench",
            "image",
            "--models",
            MODELS.toString(),
            "--model",
            "fixture-sd3",
            "--width",
            "96",
            "--height",
            "64",
            "--steps",
            "4",
            "--warmup-steps",
            "1",
            "--repeats",
            "2",
            "--preload",
            "--json",
            json.toString());
    assertEquals(0, code, out + "\n" + err);
    assertTrue(out.toString().contains("warm-up (1 steps)"), out.toString());
    JsonNode r = new ObjectMapper().readTree(json.toFile());
    assertEquals(4, r.get("steps").asInt(), r.toString());
    assertEquals(1, r.get("warmup_steps").asInt(), r.toString());
    assertEquals(96, r.get("width").asInt(), r.toString());
    assertEquals(2, r.get("seconds_per_image").size(), r.toString());
    for (JsonNode s : r.get("seconds_per_image")) {
      assertTrue(s.asDouble() > 0, r.toString());
    }
    assertTrue(r.get("peak_rss_kib").asLong() > 0, r.toString());
    assertTrue(r.get("weights_resident_bytes").asLong() > 0, "--preload loaded the weights: " + r);
  }

  @Test
  void refusesAWarmUpOfNoSteps() {
    StringWriter err = new StringWriter();
    CommandLine cli = Genloom.commandLine();
    cli.setErr(new PrintWriter(err, true));
    int code =
        cli.execute(
            "bench",
            "image",
            "--models",
            MODELS.toString(),
            "--model",
            "fixture-sd3",
            "--warmup-steps",
            "0");
    assertEquals(2, code, err.toString());
    assertTrue(err.toString().contains("warmup-steps: must be >= 1, got 0"), err.toString());
  }
}
