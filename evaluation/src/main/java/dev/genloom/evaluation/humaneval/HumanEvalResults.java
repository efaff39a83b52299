package dev.genloom.evaluation.humaneval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
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

  private static final ObjectMapper JSON = new ObjectMapper();

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

  public static ObjectNode compute(HumanEvalDb db) {
    return db.inTransaction(HumanEvalResults::compute);
  }

  private static ObjectNode compute(Connection c) throws SQLException {
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
    ObjectNode root = JSON.createObjectNode();
    root.put("bootstrap_rounds", BOOTSTRAP_ROUNDS);
    root.put("bootstrap_seed", BOOTSTRAP_SEED);
    ArrayNode configList = root.putArray("configs");
    configs.forEach(configList::add);
    ArrayNode axes = root.putArray("axes");
    List<String> axisNames = new ArrayList<>();
    try (ResultSet r =
        c.createStatement().executeQuery("SELECT name FROM axes ORDER BY position")) {
      while (r.next()) {
        axisNames.add(r.getString(1));
      }
    }
    for (String axis : axisNames) {
      axes.add(axis(axis, votes(c, axis), configs));
    }
    ArrayNode raters = root.putArray("raters");
    try (ResultSet r =
        c.createStatement()
            .executeQuery(
                "SELECT r.name, (SELECT count(*) FROM assignments a WHERE a.rater_id = r.id),"
                    + " (SELECT count(DISTINCT item_id) FROM ratings x WHERE x.rater_id = r.id)"
                    + " FROM raters r ORDER BY r.id")) {
      while (r.next()) {
        ObjectNode rater = raters.addObject();
        rater.put("name", r.getString(1));
        rater.put("assigned", r.getInt(2));
        rater.put("answered", r.getInt(3));
      }
    }
    return root;
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

  static ObjectNode axis(String axis, List<Vote> votes, List<String> configs) {
    ObjectNode node = JSON.createObjectNode();
    node.put("axis", axis);
    List<Vote> primary = votes.stream().filter(v -> v.repeatOf() == null).toList();
    ArrayNode pairs = node.putArray("pairs");
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
    kappa(node, primary);
    selfConsistency(node, votes);
    if (configs.size() > 2) {
      bradleyTerry(node, primary, configs);
    }
    return node;
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

  private static ObjectNode pair(String a, String b, List<Vote> votes) {
    ObjectNode node = JSON.createObjectNode();
    node.put("a", a);
    node.put("b", b);
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
    node.put("items", majorities.length);
    node.put("ratings", votes.size());
    ObjectNode voteCounts = counts(raterCounts);
    voteCounts.put("tie_both_good", votes.stream().filter(v -> v.choice().equals("tie")).count());
    voteCounts.put(
        "tie_both_bad", votes.stream().filter(v -> v.choice().equals("both_bad")).count());
    node.set("votes", voteCounts);
    if (majorities.length < MIN_ITEMS_FOR_INTERVAL) {
      node.put(
          "warning",
          "only "
              + majorities.length
              + " item(s) rated for this pair (n = "
              + majorities.length
              + "): too few for its rates and intervals to mean much; "
              + MIN_ITEMS_FOR_INTERVAL
              + " or more are needed");
    }
    int[] majorityCounts = new int[3];
    for (int m : majorities) {
      majorityCounts[m + 1]++;
    }
    node.set("majority", counts(majorityCounts));
    double n = majorities.length;
    node.put("win_rate", majorityCounts[2] / n);
    node.put("tie_rate", majorityCounts[1] / n);
    node.put("loss_rate", majorityCounts[0] / n);
    node.put("net_win_rate", 100 * (majorityCounts[2] - majorityCounts[0]) / n);
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
    node.set("win_rate_ci", interval(winRates));
    node.set("net_win_rate_ci", interval(netRates));
    return node;
  }

  private static ObjectNode counts(int[] c) {
    ObjectNode node = JSON.createObjectNode();
    node.put("win", c[2]);
    node.put("tie", c[1]);
    node.put("loss", c[0]);
    return node;
  }

  /** The 2.5th and 97.5th percentiles (linear interpolation, as numpy's default). */
  static ArrayNode interval(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    ArrayNode node = JSON.createArrayNode();
    node.add(percentile(sorted, 2.5));
    node.add(percentile(sorted, 97.5));
    return node;
  }

  static double percentile(double[] sorted, double q) {
    double position = q / 100 * (sorted.length - 1);
    int lo = (int) Math.floor(position);
    int hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo] + (position - lo) * (sorted[hi] - sorted[lo]);
  }

  /** Fleiss' kappa over left/right/tie, on the items with the most common number of raters. */
  private static void kappa(ObjectNode node, List<Vote> primary) {
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
    node.put("kappa_items", rows.size());
    node.put("kappa_raters_per_item", raters);
    if (rows.isEmpty()) {
      node.putNull("fleiss_kappa");
    } else {
      double kappa = FleissKappa.of(rows.toArray(int[][]::new));
      if (Double.isFinite(kappa)) {
        node.put("fleiss_kappa", kappa);
      } else {
        node.putNull("fleiss_kappa");
      }
    }
  }

  /** The share of (rater, repeated item) pairs answered the same way both times. */
  private static void selfConsistency(ObjectNode node, List<Vote> votes) {
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
    node.put("repeat_pairs", pairs);
    if (pairs == 0) {
      node.putNull("self_consistency");
    } else {
      node.put("self_consistency", same / (double) pairs);
    }
  }

  private static void bradleyTerry(ObjectNode node, List<Vote> primary, List<String> configs) {
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
    ArrayNode list = node.putArray("bradley_terry");
    for (String cfg : configs) {
      ObjectNode entry = list.addObject();
      entry.put("config", cfg);
      int[] r = record.getOrDefault(cfg, new int[3]);
      entry.put("battles", r[0]);
      if (r[0] == 0) {
        // no comparison involves it: any number would be made up
        entry.putNull("rating");
        entry.putNull("ci");
        entry.put("note", "never rated");
        continue;
      }
      entry.put("rating", ratings.get(cfg));
      entry.set("ci", interval(samples.get(cfg)));
      if (r[1] == r[0] || r[2] == r[0]) {
        entry.put(
            "note",
            (r[1] == r[0] ? "won" : "lost")
                + " every one of its "
                + r[0]
                + " comparison(s): the rating is unbounded, only its direction is meaningful");
      } else if (r[0] < MIN_ITEMS_FOR_INTERVAL) {
        entry.put("note", "only " + r[0] + " comparison(s): too few for its interval");
      }
    }
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
