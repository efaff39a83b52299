package dev.genloom.evaluation.humaneval;

import java.util.Map;

/** The question raters answer for each evaluation axis. */
final class Axes {
  private static final Map<String, String> QUESTIONS =
      Map.of(
          "visual_appeal", "Which one looks better?",
          "text_faithfulness", "Which one matches the prompt better?",
          "motion_quality", "Which one moves more naturally?",
          "overall", "Which one do you prefer overall?");

  private Axes() {}

  static String question(String axis) {
    return QUESTIONS.getOrDefault(axis, "Which one is better for " + axis.replace('_', ' ') + "?");
  }

  static void check(String axis) {
    if (!axis.matches("[a-z][a-z0-9_]{0,39}")) {
      throw new IllegalArgumentException(
          "axes: '" + axis + "' must be lower-case letters, digits and '_' (e.g. visual_appeal)");
    }
  }
}
