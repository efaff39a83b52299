package dev.genloom.evaluation.humaneval;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * Bradley-Terry ratings in the Chatbot Arena convention: each battle scores 1, 0.5 (tie) or 0 for
 * its first player; P(first wins) = σ(ln 10 · (r_a − r_b)); the negative log-likelihood is
 * minimised from r = 0 (Newton's method on this convex problem, which keeps Σ r = 0), and ratings
 * are 400 r + 1000, so they average 1000.
 */
public final class BradleyTerry {
  private static final double LN10 = Math.log(10);
  private static final int MAX_ITERATIONS = 100;
  private static final double TOLERANCE = 1e-12;

  /** Keeps the Newton system solvable when a player's every battle is decided (p = 0 or 1). */
  private static final double RIDGE = 1e-9;

  /** One comparison: the first player's score (1 win, 0.5 tie, 0 loss). */
  public record Battle(String a, String b, double score) {}

  private BradleyTerry() {}

  /** Ratings per player, in the order of {@code players}. */
  public static Map<String, Double> fit(List<String> players, List<Battle> battles) {
    int k = players.size();
    Map<String, Integer> index = new LinkedHashMap<>();
    for (int i = 0; i < k; i++) {
      index.put(players.get(i), i);
    }
    double[] r = new double[k];
    for (int iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
      double[] gradient = new double[k];
      DMatrixRMaj hessian = new DMatrixRMaj(k, k);
      for (Battle battle : battles) {
        int a = index.get(battle.a());
        int b = index.get(battle.b());
        double p = 1 / (1 + Math.exp(-LN10 * (r[a] - r[b])));
        double g = LN10 * (p - battle.score());
        gradient[a] += g;
        gradient[b] -= g;
        double h = LN10 * LN10 * p * (1 - p);
        hessian.add(a, a, h);
        hessian.add(b, b, h);
        hessian.add(a, b, -h);
        hessian.add(b, a, -h);
      }
      // The likelihood ignores a common shift; adding 11ᵀ/k fixes it at Σ r = 0 (the start).
      double steepest = 0;
      for (int i = 0; i < k; i++) {
        steepest = Math.max(steepest, Math.abs(gradient[i]));
        for (int j = 0; j < k; j++) {
          hessian.add(i, j, 1.0 / k);
        }
        hessian.add(i, i, RIDGE);
      }
      if (steepest < TOLERANCE) {
        break;
      }
      DMatrixRMaj step = new DMatrixRMaj(k, 1);
      if (!CommonOps_DDRM.solve(hessian, new DMatrixRMaj(k, 1, true, gradient), step)) {
        throw new IllegalStateException("Bradley-Terry: singular system");
      }
      double largest = 0;
      for (int i = 0; i < k; i++) {
        largest = Math.max(largest, Math.abs(step.get(i, 0)));
      }
      // Damped when far away: a player who never loses has no finite optimum, only a drift.
      double scale = largest > 1 ? 1 / largest : 1;
      for (int i = 0; i < k; i++) {
        r[i] -= scale * step.get(i, 0);
      }
      if (largest < TOLERANCE) {
        break;
      }
    }
    Map<String, Double> ratings = new LinkedHashMap<>();
    for (int i = 0; i < k; i++) {
      ratings.put(players.get(i), 400 * r[i] + 1000);
    }
    return ratings;
  }
}
