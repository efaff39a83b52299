package dev.genloom.evaluation.report;

import dev.genloom.evaluation.EvalJson;
import dev.genloom.evaluation.RunMetrics;
import dev.genloom.evaluation.humaneval.HumanEvalSummary;
import dev.genloom.proto.RunRecords;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a run's report: {@code report.json} (the {@link ReportModel}: the metrics, the
 * quality/cost frontier, the sample grids and any human evaluation) and a self-contained {@code
 * report.html} ({@link ReportPage}: tables, SVG charts, images and videos embedded, no network
 * access needed). Numbers come from {@code metrics.json} as they are.
 */
public final class RunReport {
  public static final String JSON_FILE = "report.json";
  public static final String HTML_FILE = "report.html";

  /** Human-evaluation results, when a study has been run on this run's media. */
  public static final String HUMAN_EVAL_FILE = "humaneval.json";

  private final Path runDir;

  public RunReport(Path runDir) {
    this.runDir = runDir;
  }

  /** Writes both files and returns the HTML page's path. */
  public Path write() throws IOException {
    if (!Files.isRegularFile(runDir.resolve(RunMetrics.FILE))) {
      throw new IllegalArgumentException(
          "report: "
              + runDir
              + " has no "
              + RunMetrics.FILE
              + "; run 'genloom eval run --run "
              + runDir
              + "' first");
    }
    RunMetrics metrics = RunMetrics.read(runDir);
    Path human = runDir.resolve(HUMAN_EVAL_FILE);
    ReportModel report =
        ReportModel.of(
            metrics,
            RunRecords.read(runDir),
            Files.isRegularFile(human) ? EvalJson.read(human, HumanEvalSummary.class) : null);
    EvalJson.write(runDir.resolve(JSON_FILE), report);
    Path html = runDir.resolve(HTML_FILE);
    Files.writeString(html, ReportPage.render(report, new SampleGridTable(runDir)));
    return html;
  }
}
