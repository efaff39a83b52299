package dev.genloom.evaluation.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.evaluation.EvalJson;
import dev.genloom.evaluation.RunMetrics;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * report.json is {@link ReportModel} bound by Jackson. The fixtures are a real run's metrics.json
 * and the report.json written from it (with a study's results) before the report was records; the
 * manifest's absolute reference-image paths were shortened to relative ones.
 */
class ReportModelJsonTest {
  @TempDir Path temp;

  static String resource(String name) throws IOException {
    try (InputStream in = ReportModelJsonTest.class.getResourceAsStream(name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void anEarlierReportReadsAndWritesBackByteForByte() throws IOException {
    String file = resource("report.json");
    ReportModel report = EvalJson.fromJson(file, ReportModel.class, "report.json");
    assertEquals(file, EvalJson.toJson(report) + "\n");
    EvalJson.write(temp.resolve("report.json"), report);
    assertEquals(file, Files.readString(temp.resolve("report.json")));
    assertEquals(report, EvalJson.read(temp.resolve("report.json"), ReportModel.class));
  }

  @Test
  void theReportCarriesTheRunsMetricsAsTheyAre() throws IOException {
    RunMetrics metrics =
        EvalJson.fromJson(
            resource("/dev/genloom/evaluation/metrics.json"), RunMetrics.class, "metrics.json");
    ReportModel report = EvalJson.fromJson(resource("report.json"), ReportModel.class, "report");
    ReportModel rebuilt = ReportModel.of(metrics, List.of(), report.humanEval());
    assertEquals(metrics.configs(), report.configs());
    assertEquals(report.frontier(), rebuilt.frontier());
    assertEquals(metrics.comparability(), report.comparability());
    assertEquals(
        List.of(report.run(), report.features(), report.featuresDescription(), report.reference()),
        List.of(
            rebuilt.run(), rebuilt.features(), rebuilt.featuresDescription(), rebuilt.reference()));
    assertEquals(report.clip(), rebuilt.clip());
    assertEquals(report.deadLetters(), rebuilt.deadLetters());
  }

  @Test
  void aGridAndAFrontierPointInTheHandWrittenForm() {
    SampleGrid grid =
        new SampleGrid(
            List.of("a", "b"),
            List.of(
                new SampleGrid.Row("a red circle", 3, "", Map.of("b", "media/2.png")),
                new SampleGrid.Row(
                    "a red circle moving left",
                    0,
                    "ref/real_001.png",
                    Map.of("a", "media/1.mp4"))));
    String json =
        """
        {
          "configs" : [ "a", "b" ],
          "rows" : [ {
            "prompt" : "a red circle",
            "seed" : 3,
            "reference_image" : "",
            "cells" : {
              "b" : "media/2.png"
            }
          }, {
            "prompt" : "a red circle moving left",
            "seed" : 0,
            "reference_image" : "ref/real_001.png",
            "cells" : {
              "a" : "media/1.mp4"
            }
          } ]
        }""";
    assertEquals(json, EvalJson.toJson(grid));
    assertEquals(grid, EvalJson.fromJson(json, SampleGrid.class, "grid"));
    ReportModel.FrontierPoint point = new ReportModel.FrontierPoint("a", "m", Double.NaN, 0.5, 2.0);
    String pointJson =
        """
        {
          "id" : "a",
          "model" : "m",
          "speedup" : null,
          "block_saved" : 0.5,
          "fd" : 2.0
        }""";
    assertEquals(pointJson, EvalJson.toJson(point));
    assertEquals(point, EvalJson.fromJson(pointJson, ReportModel.FrontierPoint.class, "point"));
  }

  @Test
  void anUnknownKeyIsAnErrorThatNamesItAndWhereItIs() throws IOException {
    String typo =
        resource("report.json").replaceFirst("\"reference_image\" : \"\"", "\"reference\" : \"\"");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> EvalJson.fromJson(typo, ReportModel.class, "report.json"));
    assertTrue(
        e.getMessage()
            .startsWith(
                "report.json: unknown key \"reference\" in samples.image.rows[0]; known keys:"),
        e.getMessage());
  }
}
