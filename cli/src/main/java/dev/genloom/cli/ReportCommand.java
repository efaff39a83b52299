package dev.genloom.cli;

import dev.genloom.evaluation.report.RunReport;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code genloom report}: the HTML and JSON report of an evaluated run. */
@Command(
    name = "report",
    mixinStandardHelpOptions = true,
    description = {
      "Write DIR/report.html (self-contained: tables, charts, sample grids, videos) and"
          + " DIR/report.json for a run evaluated with 'genloom eval run --run DIR'. Human"
          + " evaluation results are included when DIR/humaneval.json exists."
    })
final class ReportCommand implements Callable<Integer> {
  @Option(
      names = "--run",
      required = true,
      paramLabel = "DIR",
      description = "Output folder of a pipeline run, with metrics.json.")
  Path run;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    Path html;
    try {
      html = new RunReport(run).write();
    } catch (IllegalArgumentException e) {
      throw new UserException(e.getMessage());
    }
    spec.commandLine()
        .getOut()
        .println("wrote " + html + " and " + run.resolve(RunReport.JSON_FILE));
    spec.commandLine().getOut().flush();
    return 0;
  }
}
