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
 * The fleet load test at a small size: two worker processes, the real pipeline, both workers
 * SIGKILLed and restarted mid-run; every item must come out exactly once.
 */
class FleetBenchTest {
  @Test
  void survivesKilledWorkersWithExactlyOnceOutput(@TempDir Path temp) throws Exception {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = Genloom.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    Path json = temp.resolve("fleet.json");
    int code =
        cli.execute(
            "bench", "fleet",
            "--models", Path.of("..", "models").toString(),
            "--workers", "2",
            "--items", "80",
            "--step-ms", "20",
            "--steps", "5",
            "--json", json.toString());
    assertEquals(0, code, out + "\n" + err);
    JsonNode run = new ObjectMapper().readTree(json.toFile()).get("runs").get(0);
    assertEquals(2, run.get("workers").asInt());
    assertEquals(160, run.get("items").asInt());
    assertEquals(2, run.get("kills").asInt(), "both faults fired during the run");
    assertTrue(run.get("exactlyOnce").asBoolean(), run.toString());
    assertTrue(run.get("meanUtilization").asDouble() > 0, run.toString());
  }
}
