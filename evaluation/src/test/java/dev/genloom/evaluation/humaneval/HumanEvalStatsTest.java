package dev.genloom.evaluation.humaneval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HumanEvalStatsTest {
  @Test
  void fleissKappaMatchesTheReferenceTable() {
    int[][] table = {
      {0, 0, 0, 0, 14}, {0, 2, 6, 4, 2}, {0, 0, 3, 5, 6}, {0, 3, 9, 2, 0}, {2, 2, 8, 1, 1},
      {7, 7, 0, 0, 0}, {3, 2, 6, 3, 0}, {2, 5, 3, 2, 2}, {6, 5, 2, 1, 0}, {0, 2, 2, 3, 7}
    };
    assertEquals(0.2099, FleissKappa.of(table), 5e-5);
  }

  @Test
  void fleissKappaRefusesRaggedTables() {
    assertThrows(
        IllegalArgumentException.class, () -> FleissKappa.of(new int[][] {{1, 1}, {3, 0}}));
  }

  private static void add(List<BradleyTerry.Battle> battles, String a, String b, int n, double s) {
    for (int i = 0; i < n; i++) {
      battles.add(new BradleyTerry.Battle(a, b, s));
    }
  }

  @Test
  void bradleyTerryMatchesTheReferenceVector() {
    List<BradleyTerry.Battle> battles = new ArrayList<>();
    add(battles, "A", "B", 7, 1);
    add(battles, "A", "B", 3, 0);
    add(battles, "A", "B", 2, 0.5);
    add(battles, "B", "C", 6, 1);
    add(battles, "B", "C", 4, 0);
    add(battles, "A", "C", 8, 1);
    add(battles, "A", "C", 2, 0);
    Map<String, Double> ratings = BradleyTerry.fit(List.of("A", "B", "C"), battles);
    assertEquals(1117.77, ratings.get("A"), 0.005);
    assertEquals(983.82, ratings.get("B"), 0.005);
    assertEquals(898.41, ratings.get("C"), 0.005);
    assertEquals(3000, ratings.values().stream().mapToDouble(Double::doubleValue).sum(), 1e-6);
  }

  @Test
  void bradleyTerryStaysFiniteWhenOnePlayerNeverLoses() {
    List<BradleyTerry.Battle> battles = new ArrayList<>();
    add(battles, "A", "B", 5, 1);
    add(battles, "B", "C", 3, 1);
    Map<String, Double> ratings = BradleyTerry.fit(List.of("A", "B", "C"), battles);
    ratings.values().forEach(r -> assertEquals(true, Double.isFinite(r)));
    assertEquals(true, ratings.get("A") > ratings.get("B") && ratings.get("B") > ratings.get("C"));
  }

  private static HumanEvalResults.Vote vote(long rater, long item, String preferred) {
    return new HumanEvalResults.Vote(rater, item, null, "x", "y", preferred);
  }

  @Test
  void majorityNeedsAStrictPlurality() {
    assertEquals(
        1,
        HumanEvalResults.majority(List.of(vote(1, 1, "x"), vote(2, 1, "x"), vote(3, 1, "y")), "x"));
    assertEquals(
        -1,
        HumanEvalResults.majority(
            List.of(vote(1, 1, "y"), vote(2, 1, null), vote(3, 1, "y")), "x"));
    assertEquals(0, HumanEvalResults.majority(List.of(vote(1, 1, "x"), vote(2, 1, "y")), "x"));
    assertEquals(0, HumanEvalResults.majority(List.of(vote(1, 1, null)), "x"));
  }

  @Test
  void percentilesInterpolateLikeNumpy() {
    double[] sorted = {1, 2, 3, 4};
    // numpy.percentile([1, 2, 3, 4], [2.5, 97.5]) -> [1.075, 3.925]
    assertEquals(1.075, HumanEvalResults.percentile(sorted, 2.5), 1e-12);
    assertEquals(3.925, HumanEvalResults.percentile(sorted, 97.5), 1e-12);
  }

  @Test
  void tooFewRatingsAreFlaggedAndNeverRatedConfigurationsGetNoRating() {
    List<HumanEvalResults.Vote> votes = new ArrayList<>();
    votes.add(new HumanEvalResults.Vote(1, 1, null, "x", "y", "x"));
    HumanEvalSummary.Axis axis = HumanEvalResults.axis("visual", votes, List.of("x", "y", "z"));
    HumanEvalSummary.Pair pair = axis.pairs().get(0);
    assertEquals(1, pair.items());
    assertEquals(true, pair.warning().contains("n = 1"), pair.toString());
    List<HumanEvalSummary.Rating> bt = axis.bradleyTerry();
    assertEquals(true, bt.get(0).note().contains("won every"), bt.toString());
    assertEquals(true, bt.get(1).note().contains("lost every"), bt.toString());
    assertEquals(null, bt.get(2).rating(), "z was never compared: " + bt);
    assertEquals(null, bt.get(2).ci(), "z was never compared: " + bt);
    assertEquals("never rated", bt.get(2).note());
  }

  @Test
  void bothGoodAndBothBadTiesAreCountedApartAndAsTies() {
    List<HumanEvalResults.Vote> votes = new ArrayList<>();
    for (int item = 0; item < 12; item++) {
      String choice = item < 6 ? "left" : item < 9 ? "tie" : "both_bad";
      votes.add(
          new HumanEvalResults.Vote(
              1, item, null, "x", "y", choice.equals("left") ? "x" : null, choice));
    }
    HumanEvalSummary.Axis axis = HumanEvalResults.axis("visual", votes, List.of("x", "y"));
    HumanEvalSummary.Pair pair = axis.pairs().get(0);
    assertEquals(6, pair.majority().win());
    assertEquals(6, pair.majority().tie());
    assertEquals(3, pair.votes().tieBothGood());
    assertEquals(3, pair.votes().tieBothBad());
    assertEquals(null, pair.warning(), "12 items are enough: " + pair);
    assertEquals(null, axis.bradleyTerry(), "two configurations: no Bradley-Terry ratings");
  }
}
