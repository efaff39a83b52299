package dev.genloom.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.genloom.evaluation.report.RunReport;
import dev.genloom.generators.GoldenCheck;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code genloom demo}: the whole loop on the embedded default. Every shipped package is checked
 * against its golden tensors; the batch pipeline generates the demo prompt set with every generator
 * (block caching on and off, Token-Shuffle against the plain AR baseline, text-to-video with and
 * without FORA caching, image-to-video) on an in-process worker; the run is evaluated; and the
 * report is written.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Run the whole loop on the embedded default (CPU, offline): check every model package"
          + " against its golden tensors, generate the demo prompt set through the Beam pipeline"
          + " and an in-process worker with every shipped generator, evaluate the run (FD, KID,"
          + " prompt alignment, motion) and write an HTML report. Re-running resumes: finished"
          + " items are kept."
    })
final class DemoCommand implements Callable<Integer> {
  /** Largest max-abs error a component may show against its goldens. */
  static final double COMPONENT_TOLERANCE = 1e-4;

  @Mixin ModelsOption modelsOption;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      description = "Run folder: media, manifest, metrics and report (default: ${DEFAULT-VALUE}).",
      defaultValue = "out/demo")
  Path outDir;

  @Option(
      names = "--prompts",
      paramLabel = "FILE",
      description =
          "Prompt set, JSONL with per-item configurations (default: the shipped examples/demo/prompts.jsonl).")
  Path prompts;

  @Option(
      names = "--grid",
      paramLabel = "FILE",
      description = "Configuration grid (default: the shipped examples/demo/grid.json).")
  Path grid;

  @Option(
      names = "--seeds",
      paramLabel = "K",
      description = "Seeds per image prompt (default: ${DEFAULT-VALUE}).",
      defaultValue = "4")
  int seeds;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  private PrintWriter out;

  @Override
  public Integer call() throws Exception {
    out = spec.commandLine().getOut();
    long start = System.nanoTime();
    ModelRepository repository = modelsOption.repository();
    Engine engine = Engine.getEngine("PyTorch");
    out.printf(
        Locale.ROOT,
        "Genloom demo: DJL %s, PyTorch %s on CPU, offline=%s, %d model packages in %s%n%n",
        Engine.getDjlVersion(),
        engine.getVersion(),
        System.getProperty("ai.djl.offline", "false"),
        repository.packages().size(),
        repository.folder());
    if (!checkGoldens(repository)) {
      out.println("A model package does not match its golden tensors; stopping.");
      out.flush();
      return 1;
    }
    String models = repository.folder().toString();
    step("[2/4] Generation: the Beam pipeline on an in-process worker");
    int code =
        sub(
            new RunCommand(),
            "--models",
            models,
            "--prompts",
            Home.orShipped(prompts, "examples/demo/prompts.jsonl").toString(),
            "--grid",
            Home.orShipped(grid, "examples/demo/grid.json").toString(),
            "--seeds",
            Integer.toString(seeds),
            "--out",
            outDir.toString());
    if (code != 0) {
      return code;
    }
    step("[3/4] Evaluation: FD and KID (shapes-features), prompt alignment, motion");
    code = sub(new EvalCommand.Run(), "--models", models, "--run", outDir.toString());
    if (code != 0) {
      return code;
    }
    step("[4/4] Report");
    code = sub(new ReportCommand(), "--run", outDir.toString());
    if (code != 0) {
      return code;
    }
    out.printf(
        Locale.ROOT,
        "%nDone in %.1f s. Open the report: %s%n",
        (System.nanoTime() - start) / 1e9,
        outDir.resolve(RunReport.HTML_FILE));
    out.printf(
        Locale.ROOT,
        "Next, a blind human evaluation of this run: ./genloom humaneval tasks --run %s"
            + " --a tiny-ldm_none --b tiny-ldm_auto --more tiny-ar-s1,tiny-ar-s2 --out %s,"
            + " then 'genloom humaneval serve --db %s' and share the printed links.%n",
        outDir,
        outDir.resolve("study.db"),
        outDir.resolve("study.db"));
    out.flush();
    return 0;
  }

  private void step(String title) {
    out.println();
    out.println(title);
    out.flush();
  }

  /** Runs another genloom command with this command's output streams and error handling. */
  private int sub(Object command, String... args) {
    CommandLine child = new CommandLine(command);
    child.setOut(spec.commandLine().getOut());
    child.setErr(spec.commandLine().getErr());
    child.setExecutionExceptionHandler(
        spec.commandLine().getExecutionExceptionHandler() != null
            ? spec.commandLine().getExecutionExceptionHandler()
            : Genloom.commandLine().getExecutionExceptionHandler());
    return child.execute(args);
  }

  private boolean checkGoldens(ModelRepository repository) {
    out.println("[1/4] Conformance: every TorchScript component against its golden tensors");
    boolean ok = true;
    List<String> failed = new ArrayList<>();
    for (ModelPackage pkg : repository.packages()) {
      List<GoldenCheck.Result> results = GoldenCheck.checkComponents(pkg, Device.cpu());
      double worst = results.stream().mapToDouble(GoldenCheck.Result::maxAbsError).max().orElse(0);
      boolean pass =
          results.size() == pkg.manifest().getComponentsCount() && worst <= COMPONENT_TOLERANCE;
      ok &= pass;
      if (!pass) {
        failed.add(pkg.name());
      }
      out.printf(
          Locale.ROOT,
          "  %-16s %2d/%2d components, max abs error %.1e  %s%n",
          pkg.name(),
          results.size(),
          pkg.manifest().getComponentsCount(),
          worst,
          pass ? "ok" : "FAILED");
      out.flush();
    }
    return ok;
  }
}
