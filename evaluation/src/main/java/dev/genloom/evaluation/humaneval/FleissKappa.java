package dev.genloom.evaluation.humaneval;

/** Fleiss' kappa: agreement of a fixed number of raters per subject beyond chance. */
public final class FleissKappa {
  private FleissKappa() {}

  /**
   * @param counts counts[i][j] = raters who put subject i in category j; every row must sum to the
   *     same number of raters (at least 2)
   * @return kappa, or NaN when chance agreement is 1 (every rating in one category)
   */
  public static double of(int[][] counts) {
    if (counts.length == 0) {
      throw new IllegalArgumentException("Fleiss' kappa needs at least one subject");
    }
    int categories = counts[0].length;
    int raters = 0;
    for (int v : counts[0]) {
      raters += v;
    }
    if (raters < 2) {
      throw new IllegalArgumentException("Fleiss' kappa needs at least 2 raters per subject");
    }
    double[] p = new double[categories];
    double meanAgreement = 0;
    for (int[] row : counts) {
      if (row.length != categories) {
        throw new IllegalArgumentException("every subject needs the same categories");
      }
      int sum = 0;
      double squares = 0;
      for (int j = 0; j < categories; j++) {
        sum += row[j];
        squares += (double) row[j] * row[j];
        p[j] += row[j];
      }
      if (sum != raters) {
        throw new IllegalArgumentException(
            "every subject needs " + raters + " ratings; one has " + sum);
      }
      meanAgreement += (squares - raters) / ((double) raters * (raters - 1));
    }
    meanAgreement /= counts.length;
    double chance = 0;
    for (int j = 0; j < categories; j++) {
      double share = p[j] / ((double) counts.length * raters);
      chance += share * share;
    }
    return chance >= 1 ? Double.NaN : (meanAgreement - chance) / (1 - chance);
  }
}
