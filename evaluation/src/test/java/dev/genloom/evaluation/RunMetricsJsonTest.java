package dev.genloom.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** metrics.json is {@link RunMetrics} bound by Jackson, in the form the report has always read. */
class RunMetricsJsonTest {
  private static final ConfigMetrics IMAGE =
      new ConfigMetrics(
          "tiny-ldm_auto",
          "tiny-ldm",
          ConfigMetrics.Media.IMAGE,
          "text-to-image",
          4,
          1,
          4,
          2000,
          500.0,
          Double.NaN,
          300,
          100,
          "tiny-ldm_none",
          2.5,
          190.25,
          true,
          Double.NaN,
          Double.NaN,
          new Alignment(4, 0.75, 1.0, 0.75, 1.0),
          Double.NaN,
          null);

  private static final ConfigMetrics VIDEO =
      new ConfigMetrics(
          "t2v_3",
          "tiny-dit-video",
          ConfigMetrics.Media.VIDEO,
          "text-to-video",
          2,
          0,
          16,
          0,
          41.0,
          12.5,
          0,
          0,
          "t2v_3",
          1.0,
          Double.NaN,
          false,
          0.125,
          0.5,
          new Alignment(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN),
          80.5,
          new Motion(2, 0.5));

  private static final RunMetrics METRICS =
      new RunMetrics(
          "run-1",
          "shapes-features",
          "shapes-features (128-d)",
          "reference_stats.npz (2000 real images)",
          "shapes-clip",
          2,
          100,
          1000,
          List.of(IMAGE, VIDEO));

  /** Written by hand: field names and order, numbers as Java prints doubles, NaN as null. */
  private static final String JSON =
      """
      {
        "run" : "run-1",
        "features" : "shapes-features",
        "features_description" : "shapes-features (128-d)",
        "comparability" : "domain features: not comparable to published FID, which needs pytorch-fid's Inception",
        "reference" : "reference_stats.npz (2000 real images)",
        "clip" : "shapes-clip",
        "dead_letters" : 2,
        "kid_subsets" : 100,
        "kid_subset_size" : 1000,
        "configs" : [ {
          "id" : "tiny-ldm_auto",
          "model" : "tiny-ldm",
          "media" : "image",
          "task" : "text-to-image",
          "items" : 4,
          "failed" : 1,
          "samples" : 4,
          "wall_ms_total" : 2000,
          "wall_ms_median" : 500.0,
          "compute_ms_median" : null,
          "items_per_s" : 2.0,
          "block_evals" : 300,
          "block_skips" : 100,
          "block_saved" : 0.25,
          "baseline" : "tiny-ldm_none",
          "speedup" : 2.5,
          "fd" : 190.25,
          "fd_rank_deficient" : true,
          "kid_mean" : null,
          "kid_std" : null,
          "alignment" : {
            "samples" : 4,
            "all" : 0.75,
            "shape" : 1.0,
            "foreground" : 0.75,
            "background" : 1.0
          },
          "clip_score" : null
        }, {
          "id" : "t2v_3",
          "model" : "tiny-dit-video",
          "media" : "video",
          "task" : "text-to-video",
          "items" : 2,
          "failed" : 0,
          "samples" : 16,
          "wall_ms_total" : 0,
          "wall_ms_median" : 41.0,
          "compute_ms_median" : 12.5,
          "items_per_s" : null,
          "block_evals" : 0,
          "block_skips" : 0,
          "block_saved" : 0.0,
          "baseline" : "t2v_3",
          "speedup" : 1.0,
          "fd" : null,
          "fd_rank_deficient" : false,
          "kid_mean" : 0.125,
          "kid_std" : 0.5,
          "alignment" : {
            "samples" : 0,
            "all" : null,
            "shape" : null,
            "foreground" : null,
            "background" : null
          },
          "clip_score" : 80.5,
          "motion" : {
            "samples" : 2,
            "correct" : 0.5
          }
        } ]
      }""";

  @TempDir Path temp;

  @Test
  void recordsAreWrittenInTheHandWrittenForm() {
    assertEquals(JSON, EvalJson.toJson(METRICS));
  }

  @Test
  void theHandWrittenFormReadsBackAsTheSameRecords() {
    assertEquals(METRICS, EvalJson.fromJson(JSON, RunMetrics.class, "metrics.json"));
  }

  @Test
  void writeAndReadRoundTripThroughTheRunFolder() throws IOException {
    Path file = METRICS.write(temp);
    assertEquals(JSON + "\n", Files.readString(file));
    assertEquals(METRICS, RunMetrics.read(temp));
  }

  @Test
  void infiniteValuesAreWrittenAsNullAndReadBackAsNaN() {
    ConfigMetrics infinite = IMAGE.withBaseline("tiny-ldm_none", Double.POSITIVE_INFINITY);
    String json = EvalJson.toJson(infinite);
    assertTrue(json.contains("\"speedup\" : null"), json);
    assertEquals(
        IMAGE.withBaseline("tiny-ldm_none", Double.NaN),
        EvalJson.fromJson(json, ConfigMetrics.class, "config"));
  }

  /** metrics.json of a real run (no KID, no CLIP package: nulls) as written before records. */
  @Test
  void anEarlierRunsFileReadsAndWritesBackByteForByte() throws IOException {
    String file = resource("metrics.json");
    RunMetrics metrics = EvalJson.fromJson(file, RunMetrics.class, "metrics.json");
    assertEquals(7, metrics.configs().size());
    assertTrue(Double.isNaN(metrics.configs().get(0).kidMean()), "null KID reads as NaN");
    assertEquals(file, EvalJson.toJson(metrics) + "\n");
  }

  @Test
  void anUnknownKeyIsAnErrorThatNamesItAndWhereItIs() {
    String message = readError(JSON.replace("\"kid_std\" : 0.5", "\"kid_sd\" : 0.5"));
    assertTrue(
        message.startsWith("metrics.json: unknown key \"kid_sd\" in configs[1]; known keys:"),
        message);
    assertTrue(message.contains("kid_std"), message);
  }

  @Test
  void anUnknownTopLevelKeyIsAnError() {
    String message =
        readError(JSON.replace("\"dead_letters\" : 2,", "\"dead_letters\" : 2,\n  \"x\" : 1,"));
    assertTrue(message.startsWith("metrics.json: unknown key \"x\"; known keys:"), message);
  }

  @Test
  void aMediaKindOtherThanImageOrVideoIsAnError() {
    String message = readError(JSON.replace("\"media\" : \"video\"", "\"media\" : \"audio\""));
    assertTrue(message.contains("configs[1].media"), message);
  }

  private static String readError(String json) {
    return assertThrows(
            IllegalArgumentException.class,
            () -> EvalJson.fromJson(json, RunMetrics.class, "metrics.json"))
        .getMessage();
  }

  private static String resource(String name) throws IOException {
    try (InputStream in = RunMetricsJsonTest.class.getResourceAsStream(name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
