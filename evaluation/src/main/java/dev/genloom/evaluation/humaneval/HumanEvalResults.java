package dev.genloom.evaluation.humaneval;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The statistics of a study, per axis: rater-level and majority-vote win/tie/loss counts and rates
 * and net win rate (win − loss, in [−100, 100]) for every pair of configurations, with bootstrap
 * 95% intervals over items; Fleiss' kappa over items; rater self-consistency on repeated items;
 * and, with more than two configurations, Bradley-Terry ratings with bootstrap intervals.
 */
public final class HumanEvalResults {
  public static final int BOOTSTRAP_ROUNDS = 1000;
  public static final int BT_BOOTSTRAP_ROUNDS = 200;
  public static final long BOOTSTRAP_SEED = 0;

  /**
   * Fewer items than this make a pair's bootstrap interval unreliable; results say so beside it.
   */
  public static final int MIN_ITEMS_FOR_INTERVAL = 10;

  /**
   * One answer: which configuration the rater preferred on an item (null for a tie), and the choice
   * as given (left, right, tie for both good, both_bad).
   */
  record Vote(
      long rater,
      long item,
      Long repeatOf,
      String left,
      String right,
      String preferred,
      String choice) {
    Vote(long rater, long item, Long repeatOf, String left, String right, String preferred) {
      this(
          rater,
          item,
          repeatOf,
          left,
          right,
          preferred,
          preferred == null ? "tie" : preferred.equals(left) ? "left" : "right");
    }
  }

  private HumanEvalResults() {}

  public static HumanEvalSummary compute(HumanEvalDb db) {
    return db.inTransaction(HumanEvalResults::compute);
  }

  private static HumanEvalSummary compute(Connection c) throws SQLException {
    List<String> configs = new ArrayList<>();
    String order = setting(c, "reference_configs");
    if (order != null && !order.isEmpty()) {
      configs.addAll(Arrays.asList(order.split(",")));
    }
    try (ResultSet r = c.createStatement().executeQuery("SELECT name FROM configs ORDER BY id")) {
      while (r.next()) {
        if (!configs.contains(r.getString(1))) {
          configs.add(r.getString(1));
        }
      }
    }
    List<String> axisNames = new ArrayList<>();
    try (ResultSet r =
        c.createStatement().executeQuery("SELECT name FROM axes ORDER BY position")) {
      while (r.next()) {
        axisNames.add(r.getString(1));
      }
    }
    List<HumanEvalSummary.Axis> axes = new ArrayList<>();
    for (String axis : axisNames) {
      axes.add(axis(axis, votes(c, axis), configs));
    }
    List<HumanEvalSummary.Rater> raters = new ArrayList<>();
    try (ResultSet r =
        c.createStatement()
            .executeQuery(
                "SELECT r.name, (SELECT count(*) FROM assignments a WHERE a.rater_id = r.id),"
                    + " (SELECT count(DISTINCT item_id) FROM ratings x WHERE x.rater_id = r.id)"
                    + " FROM raters r ORDER BY r.id")) {
      while (r.next()) {
        raters.add(new HumanEvalSummary.Rater(r.getString(1), r.getInt(2), r.getInt(3)));
      }
    }
    return new HumanEvalSummary(BOOTSTRAP_ROUNDS, BOOTSTRAP_SEED, configs, axes, raters);
  }

  private static List<Vote> votes(Connection c, String axis) throws SQLException {
    List<Vote> votes = new ArrayList<>();
    try (PreparedStatement p =
        c.prepareStatement(
            "SELECT x.rater_id, x.item_id, i.repeat_of, l.name, r.name, x.choice FROM ratings x"
                + " JOIN items i ON i.id = x.item_id JOIN configs l ON l.id = i.left_config"
                + " JOIN configs r ON r.id = i.right_config WHERE x.axis = ?"
                + " ORDER BY x.item_id, x.rater_id")) {
      p.setString(1, axis);
      try (ResultSet r = p.executeQuery()) {
        while (r.next()) {
          long repeat = r.getLong(3);
          Long repeatOf = r.wasNull() ? null : repeat;
          String choice = r.getString(6);
          String preferred =
              switch (choice) {
                case "left" -> r.getString(4);
                case "right" -> r.getString(5);
                default -> null;
              };
          votes.add(
              new Vote(
                  r.getLong(1),
                  r.getLong(2),
                  repeatOf,
                  r.getString(4),
                  r.getString(5),
                  preferred,
                  choice));
        }
      }
    }
    return votes;
  }

  static HumanEvalSummary.Axis axis(String axis, List<Vote> votes, List<String> configs) {
    List<Vote> primary = votes.stream().filter(v -> v.repeatOf() == null).toList();
    List<HumanEvalSummary.Pair> pairs = new ArrayList<>();
    for (int a = 0; a < configs.size(); a++) {
      for (int b = a + 1; b < configs.size(); b++) {
        String ca = configs.get(a);
        String cb = configs.get(b);
        List<Vote> pairVotes =
            primary.stream()
                .filter(
                    v ->
                        (v.left().equals(ca) && v.right().equals(cb))
                            || (v.left().equals(cb) && v.right().equals(ca)))
                .toList();
        if (!pairVotes.isEmpty()) {
          pairs.add(pair(ca, cb, pairVotes));
        }
      }
    }
    Kappa kappa = kappa(primary);
    Consistency consistency = selfConsistency(votes);
    return new HumanEvalSummary.Axis(
        axis,
        pairs,
        kappa.items(),
        kappa.ratersPerItem(),
        kappa.value(),
        consistency.pairs(),
        consistency.share(),
        configs.size() > 2 ? bradleyTerry(primary, configs) : null);
  }

  /** Outcome of one vote or majority for A: +1 win, 0 tie, −1 loss. */
  private static int outcome(String preferred, String a) {
    return preferred == null ? 0 : preferred.equals(a) ? 1 : -1;
  }

  /** Majority over an item's raters: the outcome with strictly the most votes, else a tie. */
  static int majority(List<Vote> itemVotes, String a) {
    int[] counts = new int[3];
    for (Vote v : itemVotes) {
      counts[outcome(v.preferred(), a) + 1]++;
    }
    int best = -2;
    int bestCount = -1;
    boolean tied = false;
    for (int o = -1; o <= 1; o++) {
      int n = counts[o + 1];
      if (n > bestCount) {
        best = o;
        bestCount = n;
        tied = false;
      } else if (n == bestCount) {
        tied = true;
      }
    }
    return tied ? 0 : best;
  }

  private static HumanEvalSummary.Pair pair(String a, String b, List<Vote> votes) {
    int[] raterCounts = new int[3];
    Map<Long, List<Vote>> byItem = new LinkedHashMap<>();
    for (Vote v : votes) {
      raterCounts[outcome(v.preferred(), a) + 1]++;
      byItem.computeIfAbsent(v.item(), k -> new ArrayList<>()).add(v);
    }
    int[] majorities = new int[byItem.size()];
    int i = 0;
    for (List<Vote> itemVotes : byItem.values()) {
      majorities[i++] = majority(itemVotes, a);
    }
    HumanEvalSummary.Votes voteCounts =
        new HumanEvalSummary.Votes(
            raterCounts[2],
            raterCounts[1],
            raterCounts[0],
            votes.stream().filter(v -> v.choice().equals("tie")).count(),
            votes.stream().filter(v -> v.choice().equals("both_bad")).count());
    String warning =
        majorities.length >= MIN_ITEMS_FOR_INTERVAL
            ? null
            : "only "
                + majorities.length
                + " item(s) rated for this pair (n = "
                + majorities.length
                + "): too few for its rates and intervals to mean much; "
                + MIN_ITEMS_FOR_INTERVAL
                + " or more are needed";
    int[] majorityCounts = new int[3];
    for (int m : majorities) {
      majorityCounts[m + 1]++;
    }
    double n = majorities.length;
    double[] winRates = new double[BOOTSTRAP_ROUNDS];
    double[] netRates = new double[BOOTSTRAP_ROUNDS];
    Random random = new Random(BOOTSTRAP_SEED);
    for (int round = 0; round < BOOTSTRAP_ROUNDS; round++) {
      int wins = 0;
      int losses = 0;
      for (int k = 0; k < majorities.length; k++) {
        int m = majorities[random.nextInt(majorities.length)];
        wins += m == 1 ? 1 : 0;
        losses += m == -1 ? 1 : 0;
      }
      winRates[round] = wins / n;
      netRates[round] = 100 * (wins - losses) / n;
    }
    return new HumanEvalSummary.Pair(
        a,
        b,
        majorities.length,
        votes.size(),
        voteCounts,
        warning,
        new HumanEvalSummary.Counts(majorityCounts[2], majorityCounts[1], majorityCounts[0]),
        majorityCounts[2] / n,
        majorityCounts[1] / n,
        majorityCounts[0] / n,
        100 * (majorityCounts[2] - majorityCounts[0]) / n,
        interval(winRates),
        interval(netRates));
  }

  /** The 2.5th and 97.5th percentiles (linear interpolation, as numpy's default). */
  static HumanEvalSummary.Interval interval(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return new HumanEvalSummary.Interval(percentile(sorted, 2.5), percentile(sorted, 97.5));
  }

  static double percentile(double[] sorted, double q) {
    double position = q / 100 * (sorted.length - 1);
    int lo = (int) Math.floor(position);
    int hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo] + (position - lo) * (sorted[hi] - sorted[lo]);
  }

  /**
   * Fleiss' kappa ({@code value}, null when it cannot be computed) over {@code items} items rated
   * by {@code ratersPerItem} raters each.
   */
  private record Kappa(int items, int ratersPerItem, Double value) {}

  /** Fleiss' kappa over left/right/tie, on the items with the most common number of raters. */
  private static Kappa kappa(List<Vote> primary) {
    Map<Long, int[]> table = new LinkedHashMap<>();
    for (Vote v : primary) {
      int category =
          v.preferred() != null
              ? (v.preferred().equals(v.left()) ? 0 : 1)
              : v.choice().equals("both_bad") ? 3 : 2;
      table.computeIfAbsent(v.item(), k -> new int[4])[category]++;
    }
    Map<Integer, Integer> sizes = new HashMap<>();
    table.values().forEach(row -> sizes.merge(row[0] + row[1] + row[2] + row[3], 1, Integer::sum));
    int raters =
        sizes.entrySet().stream()
            .filter(e -> e.getKey() >= 2)
            .max(
                Map.Entry.<Integer, Integer>comparingByValue()
                    .thenComparing(Map.Entry.comparingByKey()))
            .map(Map.Entry::getKey)
            .orElse(0);
    List<int[]> rows =
        table.values().stream().filter(row -> row[0] + row[1] + row[2] + row[3] == raters).toList();
    Double kappa = null;
    if (!rows.isEmpty()) {
      double value = FleissKappa.of(rows.toArray(int[][]::new));
      kappa = Double.isFinite(value) ? value : null;
    }
    return new Kappa(rows.size(), raters, kappa);
  }

  /**
   * Rater self-consistency: the share (null without any) of {@code pairs} (rater, repeated item)
   * pairs answered the same way both times.
   */
  private record Consistency(int pairs, Double share) {}

  private static Consistency selfConsistency(List<Vote> votes) {
    Map<String, Vote> originals = new HashMap<>();
    for (Vote v : votes) {
      if (v.repeatOf() == null) {
        originals.put(v.rater() + "/" + v.item(), v);
      }
    }
    int pairs = 0;
    int same = 0;
    for (Vote v : votes) {
      if (v.repeatOf() == null) {
        continue;
      }
      Vote original = originals.get(v.rater() + "/" + v.repeatOf());
      if (original == null) {
        continue;
      }
      pairs++;
      same += original.choice().equals(v.choice()) ? 1 : 0;
    }
    return new Consistency(pairs, pairs == 0 ? null : same / (double) pairs);
  }

  private static List<HumanEvalSummary.Rating> bradleyTerry(
      List<Vote> primary, List<String> configs) {
    Map<String, Double> ratings = BradleyTerry.fit(configs, battles(primary));
    List<Long> items = primary.stream().map(Vote::item).distinct().toList();
    Map<Long, List<Vote>> byItem = new LinkedHashMap<>();
    primary.forEach(v -> byItem.computeIfAbsent(v.item(), k -> new ArrayList<>()).add(v));
    Map<String, double[]> samples = new LinkedHashMap<>();
    configs.forEach(cfg -> samples.put(cfg, new double[BT_BOOTSTRAP_ROUNDS]));
    Random random = new Random(BOOTSTRAP_SEED);
    for (int round = 0; round < BT_BOOTSTRAP_ROUNDS; round++) {
      List<Vote> resampled = new ArrayList<>();
      for (int k = 0; k < items.size(); k++) {
        resampled.addAll(byItem.get(items.get(random.nextInt(items.size()))));
      }
      Map<String, Double> r = BradleyTerry.fit(configs, battles(resampled));
      for (String cfg : configs) {
        samples.get(cfg)[round] = r.get(cfg);
      }
    }
    Map<String, int[]> record = new HashMap<>(); // battles and points per configuration
    for (BradleyTerry.Battle battle : battles(primary)) {
      int[] a = record.computeIfAbsent(battle.a(), k -> new int[3]);
      int[] b = record.computeIfAbsent(battle.b(), k -> new int[3]);
      a[0]++;
      b[0]++;
      a[battle.score() == 1 ? 1 : battle.score() == 0 ? 2 : 0]++;
      b[battle.score() == 0 ? 1 : battle.score() == 1 ? 2 : 0]++;
    }
    List<HumanEvalSummary.Rating> list = new ArrayList<>();
    for (String cfg : configs) {
      int[] r = record.getOrDefault(cfg, new int[3]);
      if (r[0] == 0) {
        // no comparison involves it: any number would be made up
        list.add(new HumanEvalSummary.Rating(cfg, 0, null, null, "never rated"));
        continue;
      }
      String note = null;
      if (r[1] == r[0] || r[2] == r[0]) {
        note =
            (r[1] == r[0] ? "won" : "lost")
                + " every one of its "
                + r[0]
                + " comparison(s): the rating is unbounded, only its direction is meaningful";
      } else if (r[0] < MIN_ITEMS_FOR_INTERVAL) {
        note = "only " + r[0] + " comparison(s): too few for its interval";
      }
      list.add(
          new HumanEvalSummary.Rating(
              cfg, r[0], ratings.get(cfg), interval(samples.get(cfg)), note));
    }
    return list;
  }

  private static List<BradleyTerry.Battle> battles(List<Vote> votes) {
    List<BradleyTerry.Battle> battles = new ArrayList<>();
    for (Vote v : votes) {
      double score = v.preferred() == null ? 0.5 : v.preferred().equals(v.left()) ? 1 : 0;
      battles.add(new BradleyTerry.Battle(v.left(), v.right(), score));
    }
    return battles;
  }

  private static String setting(Connection c, String key) throws SQLException {
    try (PreparedStatement p = c.prepareStatement("SELECT value FROM settings WHERE key = ?")) {
      p.setString(1, key);
      try (ResultSet r = p.executeQuery()) {
        return r.next() ? r.getString(1) : null;
      }
    }
  }
}
