package dev.genloom.evaluation.humaneval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.evaluation.EvalJson;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** humaneval.json is {@link HumanEvalSummary} bound by Jackson, in the form it has always had. */
class HumanEvalSummaryJsonTest {
  private static final HumanEvalSummary SUMMARY =
      new HumanEvalSummary(
          1000,
          0,
          List.of("x", "y", "z"),
          List.of(
              new HumanEvalSummary.Axis(
                  "visual_appeal",
                  List.of(
                      new HumanEvalSummary.Pair(
                          "x",
                          "y",
                          12,
                          24,
                          new HumanEvalSummary.Votes(14, 6, 4, 4, 2),
                          null,
                          new HumanEvalSummary.Counts(7, 3, 2),
                          0.5,
                          0.25,
                          0.25,
                          25.0,
                          new HumanEvalSummary.Interval(0.25, 0.75),
                          new HumanEvalSummary.Interval(-12.5, 62.5))),
                  12,
                  2,
                  0.125,
                  3,
                  0.5,
                  List.of(
                      new HumanEvalSummary.Rating(
                          "x", 12, 1010.5, new HumanEvalSummary.Interval(990.0, 1030.0), null),
                      new HumanEvalSummary.Rating(
                          "y",
                          12,
                          989.5,
                          new HumanEvalSummary.Interval(970.0, 1009.0),
                          "only 12 comparison(s)"),
                      new HumanEvalSummary.Rating("z", 0, null, null, "never rated")))),
          List.of(
              new HumanEvalSummary.Rater("r1", 12, 12), new HumanEvalSummary.Rater("r2", 12, 9)));

  /** Written by hand: absent warning, explicit nulls of a configuration never rated. */
  private static final String JSON =
      """
      {
        "bootstrap_rounds" : 1000,
        "bootstrap_seed" : 0,
        "configs" : [ "x", "y", "z" ],
        "axes" : [ {
          "axis" : "visual_appeal",
          "pairs" : [ {
            "a" : "x",
            "b" : "y",
            "items" : 12,
            "ratings" : 24,
            "votes" : {
              "win" : 14,
              "tie" : 6,
              "loss" : 4,
              "tie_both_good" : 4,
              "tie_both_bad" : 2
            },
            "majority" : {
              "win" : 7,
              "tie" : 3,
              "loss" : 2
            },
            "win_rate" : 0.5,
            "tie_rate" : 0.25,
            "loss_rate" : 0.25,
            "net_win_rate" : 25.0,
            "win_rate_ci" : [ 0.25, 0.75 ],
            "net_win_rate_ci" : [ -12.5, 62.5 ]
          } ],
          "kappa_items" : 12,
          "kappa_raters_per_item" : 2,
          "fleiss_kappa" : 0.125,
          "repeat_pairs" : 3,
          "self_consistency" : 0.5,
          "bradley_terry" : [ {
            "config" : "x",
            "battles" : 12,
            "rating" : 1010.5,
            "ci" : [ 990.0, 1030.0 ]
          }, {
            "config" : "y",
            "battles" : 12,
            "rating" : 989.5,
            "ci" : [ 970.0, 1009.0 ],
            "note" : "only 12 comparison(s)"
          }, {
            "config" : "z",
            "battles" : 0,
            "rating" : null,
            "ci" : null,
            "note" : "never rated"
          } ]
        } ],
        "raters" : [ {
          "name" : "r1",
          "assigned" : 12,
          "answered" : 12
        }, {
          "name" : "r2",
          "assigned" : 12,
          "answered" : 9
        } ]
      }""";

  @TempDir Path temp;

  @Test
  void recordsAreWrittenInTheHandWrittenForm() {
    assertEquals(JSON, EvalJson.toJson(SUMMARY));
  }

  @Test
  void writeAndReadRoundTrip() throws IOException {
    Path file = temp.resolve("humaneval.json");
    EvalJson.write(file, SUMMARY);
    assertEquals(JSON + "\n", Files.readString(file));
    assertEquals(SUMMARY, EvalJson.read(file, HumanEvalSummary.class));
  }

  /** Results of a real study (too few items, no kappa, no repeats) as written before records. */
  @Test
  void anEarlierStudysFileReadsAndWritesBackByteForByte() throws IOException {
    String file;
    try (InputStream in = getClass().getResourceAsStream("humaneval.json")) {
      file = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    HumanEvalSummary summary = EvalJson.fromJson(file, HumanEvalSummary.class, "humaneval.json");
    HumanEvalSummary.Axis axis = summary.axes().get(0);
    assertNull(axis.fleissKappa());
    assertNull(axis.selfConsistency());
    assertNull(axis.bradleyTerry(), "two configurations: no Bradley-Terry ratings");
    assertTrue(axis.pairs().get(0).warning().contains("n = 5"));
    assertEquals(file, EvalJson.toJson(summary) + "\n");
  }

  @Test
  void anUnknownKeyIsAnErrorThatNamesItAndWhereItIs() {
    String typo = JSON.replace("\"note\" : \"never rated\"", "\"notes\" : \"never rated\"");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> EvalJson.fromJson(typo, HumanEvalSummary.class, "humaneval.json"));
    assertTrue(
        e.getMessage()
            .startsWith(
                "humaneval.json: unknown key \"notes\" in axes[0].bradley_terry[2]; known keys:"),
        e.getMessage());
  }
}
