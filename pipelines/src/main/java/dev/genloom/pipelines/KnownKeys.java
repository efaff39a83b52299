package dev.genloom.pipelines;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.List;

/**
 * The keys a JSON object of an input file may hold. An unknown key is an error that names it and
 * the closest known key, so that a typo such as {@code "step"} is never read as "not given".
 */
final class KnownKeys {
  private final String what;
  private final List<String> keys;

  KnownKeys(String what, List<String> keys) {
    this.what = what;
    this.keys = List.copyOf(keys);
  }

  /** Throws an {@link IllegalArgumentException} naming the first key of {@code node} not known. */
  void check(JsonNode node) {
    for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!keys.contains(name)) {
        throw new IllegalArgumentException(
            what + ": unknown key \"" + name + "\"" + suggestion(name) + "; known keys: " + keys);
      }
    }
  }

  private String suggestion(String name) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String key : keys) {
      int d = distance(name.toLowerCase(java.util.Locale.ROOT), key);
      if (d < bestDistance) {
        bestDistance = d;
        best = key;
      }
    }
    return best != null && bestDistance <= Math.max(2, name.length() / 3)
        ? " (did you mean \"" + best + "\"?)"
        : "";
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }
}
