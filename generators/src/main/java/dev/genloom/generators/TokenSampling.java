package dev.genloom.generators;

import java.util.Arrays;

/**
 * Sampling one code from guided logits, in float32 as the reference implementation does:
 * temperature; top-k keeps every logit at least the k-th largest; top-p keeps, in descending order,
 * each token whose preceding probability mass is at most p; softmax; then inverse-CDF sampling in
 * vocabulary order: the index is the number of cumulative probabilities below {@code u * total}.
 */
final class TokenSampling {
  private TokenSampling() {}

  static int sample(float[] logits, float temperature, int topK, float topP, double uniform) {
    int n = logits.length;
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = logits[i] / temperature;
    }
    if (topK > 0 && topK < n) {
      float[] sorted = x.clone();
      Arrays.sort(sorted);
      float kth = sorted[n - topK];
      for (int i = 0; i < n; i++) {
        if (x[i] < kth) {
          x[i] = Float.NEGATIVE_INFINITY;
        }
      }
    }
    if (topP < 1f) {
      Integer[] order = new Integer[n];
      for (int i = 0; i < n; i++) {
        order[i] = i;
      }
      Arrays.sort(order, (a, b) -> Float.compare(x[b], x[a]));
      float[] sortedProbs = softmax(sortedValues(x, order));
      float cumulative = 0f;
      boolean[] remove = new boolean[n];
      for (int r = 0; r < n; r++) {
        cumulative += sortedProbs[r];
        remove[r] = cumulative - sortedProbs[r] > topP;
      }
      for (int r = 0; r < n; r++) {
        if (remove[r]) {
          x[order[r]] = Float.NEGATIVE_INFINITY;
        }
      }
    }
    float[] probs = softmax(x);
    float[] cdf = new float[n];
    float running = 0f;
    for (int i = 0; i < n; i++) {
      running += probs[i];
      cdf[i] = running;
    }
    float threshold = (float) uniform * cdf[n - 1];
    int index = 0;
    for (int i = 0; i < n; i++) {
      if (cdf[i] < threshold) {
        index++;
      }
    }
    return Math.min(index, n - 1);
  }

  private static float[] sortedValues(float[] x, Integer[] order) {
    float[] out = new float[x.length];
    for (int r = 0; r < x.length; r++) {
      out[r] = x[order[r]];
    }
    return out;
  }

  static float[] softmax(float[] x) {
    float max = Float.NEGATIVE_INFINITY;
    for (float v : x) {
      max = Math.max(max, v);
    }
    float[] out = new float[x.length];
    float sum = 0f;
    for (int i = 0; i < x.length; i++) {
      out[i] = (float) Math.exp(x[i] - max);
      sum += out[i];
    }
    for (int i = 0; i < x.length; i++) {
      out[i] /= sum;
    }
    return out;
  }
}
