package dev.genloom.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
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
  void usageErrorsExitTwoAcrossCommands(@TempDir Path dir) {
    String[][] cases = {
      {"worker", "--port", "99999"},
      {"worker", "--metrics-port", "-7"},
      {"generate", "--model", "tiny-ldm", "--prompt", "x", "--steps", "0", "--out", "x.png"},
      {"eval", "fid", "--a", dir.resolve("none").toString(), "--b", dir.toString()},
      {"report", "--run", dir.resolve("none").toString()},
      {"humaneval", "results", "--db", dir.resolve("none.db").toString()},
      {"models", "check", "--models", Path.of("..", "models").toString(), "nope"},
      {"models", "verify", "--models", Path.of("..", "models").toString(), "nope"},
      {"run", "--prompts", dir.resolve("none.txt").toString(), "--out", dir.toString()},
      {"no-such-command"},
    };
    for (String[] args : cases) {
      err.getBuffer().setLength(0);
      assertEquals(2, run(args), String.join(" ", args) + ": " + err);
    }
  }

  @Test
  void badArgumentsNameTheProblem() {
    int code = run("bench", "pipeline", "--items", "1");
    assertEquals(2, code);
    assertTrue(err.toString().contains("items must be >= 2"), err.toString());
  }

  @Test
  void modelsListsTheGoodPackagesAndFlagsABrokenOne(@TempDir Path dir) throws Exception {
    Path models = java.nio.file.Files.createDirectories(dir.resolve("models"));
    Path shipped = Path.of("..", "models", "shapes-clip").toAbsolutePath().normalize();
    Path broken = models.resolve("a-broken-copy");
    try (var files = java.nio.file.Files.walk(shipped)) {
      for (Path f : files.toList()) {
        java.nio.file.Files.copy(f, broken.resolve(shipped.relativize(f).toString()));
      }
    }
    Path component;
    try (var files = java.nio.file.Files.walk(broken)) {
      component = files.filter(f -> f.toString().endsWith(".pt")).findFirst().orElseThrow();
    }
    java.nio.file.Files.write(component, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
    java.nio.file.Files.createSymbolicLink(
        models.resolve("tiny-ldm"), Path.of("..", "models", "tiny-ldm").toAbsolutePath());
    int code = run("models", "--models", models.toString());
    assertEquals(1, code, out + "\n" + err);
    assertTrue(out.toString().contains("tiny-ldm "), "the good package is listed: " + out);
    assertTrue(out.toString().contains("a-broken-copy    BROKEN: "), out.toString());
    assertTrue(
        out.toString().contains("SHA-256") || out.toString().contains("sha256"), out.toString());
    assertTrue(err.toString().contains("1 package(s) broken"), err.toString());
  }

  @Test
  void modelsCountsAFileSharedByTwoComponentsOnce(@TempDir Path dir) throws Exception {
    Path models = Files.createDirectories(dir.resolve("models"));
    Path shipped = Path.of("..", "models", "tiny-ar-s1").toAbsolutePath().normalize();
    Files.createSymbolicLink(models.resolve("tiny-ar-s1"), shipped);
    long bytes = 0;
    try (var files = Files.walk(shipped)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        bytes += Files.size(f);
      }
    }
    assertEquals(0, run("models", "--models", models.toString()), out + "\n" + err);
    // prefill and decode are methods of transformer.pt: four components, three files.
    assertTrue(out.toString().contains(" 4 components in 3 files"), out.toString());
    assertTrue(
        out.toString().contains("on disk: " + PackageFootprint.bytes(bytes) + ";"), out.toString());
  }

  @Test
  void modelsTrustsAnUnchangedFileAndVerifyHashesItAgain(@TempDir Path dir) throws Exception {
    Path models = Files.createDirectories(dir.resolve("models"));
    Path shipped = Path.of("..", "models", "shapes-clip").toAbsolutePath().normalize();
    Path copy = models.resolve("shapes-clip");
    try (var files = Files.walk(shipped)) {
      for (Path f : files.toList()) {
        Files.copy(f, copy.resolve(shipped.relativize(f).toString()));
      }
    }
    assertEquals(0, run("models", "--models", models.toString()), out + "\n" + err);
    assertTrue(out.toString().contains("weights: fp32 ("), out.toString());
    assertTrue(out.toString().contains("on disk: "), out.toString());
    Path component;
    try (var files = Files.walk(copy)) {
      component = files.filter(f -> f.toString().endsWith(".pt")).findFirst().orElseThrow();
    }
    // Other bytes at the same size and modification time: listing trusts the recorded version.
    var mtime = Files.getLastModifiedTime(component);
    byte[] bytes = Files.readAllBytes(component);
    bytes[bytes.length / 2] ^= 1;
    Files.write(component, bytes);
    Files.setLastModifiedTime(component, mtime);
    assertEquals(0, run("models", "--models", models.toString()), out + "\n" + err);
    out.getBuffer().setLength(0);
    assertEquals(1, run("models", "verify", "--models", models.toString()), out + "\n" + err);
    assertTrue(out.toString().contains("shapes-clip      BROKEN: "), out.toString());
    assertTrue(out.toString().contains("corrupt"), out.toString());
    assertEquals(1, run("models", "--models", models.toString()), "verify replaced the record");
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

  @Test
  void evalFidRefusesNonFiniteOrNonCovarianceStatistics(@TempDir Path dir) throws Exception {
    Path good = dir.resolve("good.npz");
    Path nan = dir.resolve("nan.npz");
    Path indefinite = dir.resolve("indefinite.npz");
    long[] two = {2};
    long[] twoByTwo = {2, 2};
    dev.genloom.evaluation.Npz.write(
        good,
        java.util.Map.of(
            "mu", new dev.genloom.evaluation.Npz.Array(two, new double[] {0, 0}),
            "sigma", new dev.genloom.evaluation.Npz.Array(twoByTwo, new double[] {1, 0, 0, 1})));
    dev.genloom.evaluation.Npz.write(
        nan,
        java.util.Map.of(
            "mu", new dev.genloom.evaluation.Npz.Array(two, new double[] {Double.NaN, 0}),
            "sigma", new dev.genloom.evaluation.Npz.Array(twoByTwo, new double[] {1, 0, 0, 1})));
    dev.genloom.evaluation.Npz.write(
        indefinite,
        java.util.Map.of(
            "mu", new dev.genloom.evaluation.Npz.Array(two, new double[] {0, 0}),
            "sigma", new dev.genloom.evaluation.Npz.Array(twoByTwo, new double[] {1, 2, 2, 1})));
    String models = Path.of("..", "models").toString();
    assertEquals(
        0, run("eval", "fid", "--models", models, "--a", good.toString(), "--b", good.toString()));
    err.getBuffer().setLength(0);
    assertEquals(
        2, run("eval", "fid", "--models", models, "--a", good.toString(), "--b", nan.toString()));
    assertTrue(err.toString().contains("nan.npz: mu[0] is NaN"), err.toString());
    err.getBuffer().setLength(0);
    assertEquals(
        2,
        run(
            "eval",
            "fid",
            "--models",
            models,
            "--a",
            indefinite.toString(),
            "--b",
            good.toString()));
    assertTrue(err.toString().contains("not positive semi-definite"), err.toString());
  }

  /** Every command and subcommand, depth first. */
  private static void walk(CommandLine command, List<CommandLine> into) {
    into.add(command);
    command.getSubcommands().values().stream()
        .distinct()
        .filter(c -> !c.getCommandName().equals("help"))
        .forEach(c -> walk(c, into));
  }

  @Test
  void helpTextHasNoBrokenWrapsAndEveryOptionIsKebabCase() {
    List<CommandLine> commands = new java.util.ArrayList<>();
    walk(Genloom.commandLine(), commands);
    List<String> problems = new java.util.ArrayList<>();
    for (CommandLine command : commands) {
      // a wrap must fall between words: every word of the source text appears whole in the
      // rendered help once its line breaks are joined
      String joined =
          command
              .getUsageMessage(CommandLine.Help.Ansi.OFF)
              .replaceAll("-\\n\\s+", "-") // a break after a hyphen is a fine place
              .replaceAll("\\s*\\n\\s*", " ");
      List<String> texts = new java.util.ArrayList<>();
      texts.addAll(List.of(command.getCommandSpec().usageMessage().description()));
      command.getCommandSpec().options().forEach(o -> texts.addAll(List.of(o.description())));
      command
          .getCommandSpec()
          .positionalParameters()
          .forEach(o -> texts.addAll(List.of(o.description())));
      for (String text : texts) {
        for (String word : text.split("\\s+")) {
          if (word.isEmpty() || word.contains("${") || word.contains("%")) {
            continue;
          }
          if (!joined.contains(word)) {
            problems.add(command.getCommandSpec().qualifiedName() + ": '" + word + "' is split");
          }
        }
      }
      for (CommandLine.Model.OptionSpec option : command.getCommandSpec().options()) {
        for (String name : option.names()) {
          if (name.startsWith("--") && !name.matches("--[a-z0-9]+(-[a-z0-9]+)*")) {
            problems.add(command.getCommandSpec().qualifiedName() + ": option " + name);
          }
        }
      }
    }
    assertEquals(List.of(), problems);
  }
}
