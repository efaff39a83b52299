package dev.genloom.generators;

import java.util.Arrays;

/**
 * Sampling one token from logits: temperature, top-k, top-p (nucleus), softmax, then an inverse-CDF
 * draw with one uniform number. Ties are broken by token index so the result is deterministic.
 */
final class TokenSampling {
  private TokenSampling() {}

  static int sample(float[] logits, float temperature, int topK, float topP, double uniform) {
    int n = logits.length;
    double[] scaled = new double[n];
    for (int i = 0; i < n; i++) {
      scaled[i] = logits[i] / (double) temperature;
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(
        order, (a, b) -> scaled[a] != scaled[b] ? Double.compare(scaled[b], scaled[a]) : a - b);
    int keep = topK > 0 ? Math.min(topK, n) : n;
    double max = scaled[order[0]];
    double[] probs = new double[keep];
    double sum = 0;
    for (int r = 0; r < keep; r++) {
      probs[r] = Math.exp(scaled[order[r]] - max);
      sum += probs[r];
    }
    for (int r = 0; r < keep; r++) {
      probs[r] /= sum;
    }
    if (topP < 1f) {
      // Keep the smallest prefix whose mass reaches top_p (the first token always stays).
      double cumulative = 0;
      int cut = keep;
      for (int r = 0; r < keep; r++) {
        cumulative += probs[r];
        if (cumulative >= topP) {
          cut = r + 1;
          break;
        }
      }
      keep = cut;
      double mass = 0;
      for (int r = 0; r < keep; r++) {
        mass += probs[r];
      }
      for (int r = 0; r < keep; r++) {
        probs[r] /= mass;
      }
    }
    double target = uniform;
    double cumulative = 0;
    for (int r = 0; r < keep; r++) {
      cumulative += probs[r];
      if (target < cumulative) {
        return order[r];
      }
    }
    return order[keep - 1];
  }
}
