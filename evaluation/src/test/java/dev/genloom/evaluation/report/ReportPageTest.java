package dev.genloom.evaluation.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.evaluation.ConfigMetrics;
import dev.genloom.evaluation.EvalJson;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTML view shows the model's values: exact numbers in data-value, a dash for missing ones. */
class ReportPageTest {
  @TempDir Path temp;

  private String page() throws IOException {
    ReportModel r =
        EvalJson.fromJson(
            ReportModelJsonTest.resource("report.json"), ReportModel.class, "report.json");
    SampleGrid empty = new SampleGrid(List.of(), List.of());
    ReportModel withoutMedia =
        new ReportModel(
            r.run(),
            r.features(),
            r.featuresDescription(),
            r.comparability(),
            r.reference(),
            r.clip(),
            r.deadLetters(),
            r.configs(),
            r.frontier(),
            new ReportModel.Samples(empty, empty, empty),
            r.humanEval());
    return ReportPage.render(withoutMedia, new SampleGridTable(temp));
  }

  @Test
  void numbersCarryTheirExactValueAndMissingOnesADash() throws IOException {
    String html = page();
    for (ConfigMetrics c :
        EvalJson.fromJson(
                ReportModelJsonTest.resource("report.json"), ReportModel.class, "report.json")
            .configs()) {
      assertTrue(html.contains("<tr><td>" + c.id() + "</td>"), c.id());
      assertTrue(
          html.contains("data-field=\"fd\" data-value=\"" + Double.toString(c.fd()) + "\""),
          c.id());
    }
    // This run has no KID (a reference without features) and no CLIP package.
    assertFalse(html.contains("data-field=\"kid_mean\" data-value"), "KID is missing");
    assertEquals(7, count(html, "data-field=\"kid_mean\">–</td>"));
    assertEquals(7, count(html, "data-field=\"clip_score\">–</td>"));
    assertEquals(4, count(html, "data-field=\"motion.correct\">–</td>"), "images have no motion");
    assertFalse(html.contains("<table class=\"samples\">"), "empty grids are left out");
  }

  @Test
  void humanEvaluationTablesShowEveryPairAndRating() throws IOException {
    String html = page();
    assertEquals(2, count(html, "<table class=\"human\">"), "one table per axis");
    assertEquals(6, count(html, "data-field=\"majority.tie\" data-value=\""));
    assertEquals(2, count(html, "tiny-ar-s2 – (never rated)"));
  }

  private static int count(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }
}
