package dev.genloom.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class GenloomTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    CommandLine cli = Genloom.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    return cli.execute(args);
  }

  @Test
  void helpListsEverySubcommand() {
    assertEquals(0, run("--help"));
    for (String name :
        new String[] {
          "demo", "models", "generate", "worker", "run", "eval", "humaneval", "report", "bench"
        }) {
      assertTrue(out.toString().contains(name), name + " missing from:\n" + out);
    }
  }

  @Test
  void everySubcommandHasHelp() {
    for (String name :
        new String[] {
          "demo", "models", "generate", "worker", "run", "eval", "humaneval", "report", "bench"
        }) {
      out.getBuffer().setLength(0);
      assertEquals(0, run(name, "--help"), name);
      assertTrue(out.toString().contains("Usage: genloom " + name), out.toString());
    }
  }

  @Test
  void badArgumentsNameTheProblem() {
    int code = run("bench", "pipeline", "--items", "1");
    assertEquals(2, code);
    assertTrue(err.toString().contains("items must be >= 2"), err.toString());
  }

  @Test
  void modelsReportsAMissingFolderClearly(@TempDir Path dir) {
    int code = run("models", "--models", dir.resolve("absent").toString());
    assertEquals(2, code);
    assertTrue(err.toString().contains("model folder does not exist"), err.toString());
  }

  @Test
  void modelsListsPackagesAndTheirQuality(@TempDir Path dir) throws Exception {
    Path pkg = Files.createDirectories(dir.resolve("feat"));
    Files.writeString(
        pkg.resolve("manifest.json"),
        "{\"format\":\"genloom/v1\",\"name\":\"feat\",\"kind\":\"MODEL_KIND_FEATURES\","
            + "\"quality\":[{\"metric\":\"accuracy_shape\",\"value\":0.99,\"samples\":500}]}");
    assertEquals(0, run("models", "--models", dir.toString()));
    assertTrue(out.toString().contains("feat"), out.toString());
    assertTrue(out.toString().contains("accuracy_shape"), out.toString());
    assertTrue(out.toString().contains("0.9900"), out.toString());
  }

  @Test
  void generateRefusesAnUnknownModelNamingIt(@TempDir Path dir) {
    int code =
        run(
            "generate",
            "--models",
            dir.toString(),
            "--model",
            "nope",
            "--prompt",
            "a red circle",
            "--out",
            dir.resolve("x.png").toString());
    assertEquals(2, code);
    assertTrue(err.toString().contains("model: unknown model 'nope'"), err.toString());
  }

  @Test
  void generateRequiresItsOptions() {
    assertEquals(2, run("generate", "--prompt", "x"));
    assertTrue(err.toString().contains("--model"), err.toString());
  }

  @Test
  void evalFidOfAFolderAgainstItselfIsZeroAndReportsTheFeatures() throws Exception {
    String real = Path.of("..", "examples", "real-shapes").toString();
    int code =
        run(
            "eval",
            "fid",
            "--models",
            Path.of("..", "models").toString(),
            "--a",
            real,
            "--b",
            real,
            "--json");
    assertEquals(0, code, err.toString());
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.toString().strip());
    // Rank-deficient (48 samples, 128 dimensions): square roots of ~zero eigenvalues add round-off.
    assertEquals(0.0, json.get("fid").asDouble(), 1e-3);
    assertEquals(48, json.get("n_a").asInt());
    assertEquals("shapes-features", json.get("features").asText());
    assertTrue(err.toString().contains("rank-deficient"), err.toString());
  }
}
