package dev.genloom.evaluation.report;

import dev.genloom.evaluation.humaneval.HumanEvalSummary;
import java.util.ArrayList;
import java.util.List;

/** The report's human-evaluation section: one table per axis, then agreement and ratings. */
final class HumanEvalTables {
  private HumanEvalTables() {}

  static void append(StringBuilder h, HumanEvalSummary human) {
    h.append("<p class=\"note\">Blind pairwise ratings; rates over items by majority vote of")
        .append(" their raters; 95% bootstrap intervals over items (")
        .append(human.bootstrapRounds())
        .append(" rounds). Net win rate = win − loss, in [−100, 100].</p>\n");
    for (HumanEvalSummary.Axis axis : human.axes()) {
      h.append("<h3>").append(Html.escape(axis.axis())).append("</h3>\n");
      h.append("<div class=\"scroll\"><table class=\"human\"><thead><tr>");
      for (String col :
          new String[] {"A", "B", "items", "win", "tie", "loss", "win rate", "net win rate"}) {
        h.append("<th>").append(col).append("</th>");
      }
      h.append("</tr></thead><tbody>\n");
      for (HumanEvalSummary.Pair pair : axis.pairs()) {
        pairRow(h, pair);
      }
      h.append("</tbody></table></div>\n<p class=\"note\">Fleiss' κ ")
          .append(Html.number(axis.fleissKappa(), 3))
          .append(" over ")
          .append(axis.kappaItems())
          .append(" items; self-consistency ")
          .append(Html.percent(axis.selfConsistency()))
          .append(" over ")
          .append(axis.repeatPairs())
          .append(" repeated answers.");
      if (axis.bradleyTerry() != null) {
        h.append(" Bradley-Terry ratings (mean 1000): ");
        List<String> parts = new ArrayList<>();
        for (HumanEvalSummary.Rating bt : axis.bradleyTerry()) {
          parts.add(rating(bt));
        }
        h.append(String.join("; ", parts)).append('.');
      }
      h.append("</p>\n");
    }
  }

  private static void pairRow(StringBuilder h, HumanEvalSummary.Pair pair) {
    h.append("<tr><td>").append(Html.escape(pair.a())).append("</td>");
    h.append("<td>").append(Html.escape(pair.b())).append("</td>");
    Html.cell(h, "items", pair.items(), Integer.toString(pair.items()));
    HumanEvalSummary.Counts majority = pair.majority();
    Html.cell(h, "majority.win", majority.win(), Integer.toString(majority.win()));
    Html.cell(h, "majority.tie", majority.tie(), Integer.toString(majority.tie()));
    Html.cell(h, "majority.loss", majority.loss(), Integer.toString(majority.loss()));
    Html.cell(
        h,
        "win_rate",
        pair.winRate(),
        withInterval(
            Html.percent(pair.winRate()),
            Html.percent(pair.winRateCi().low()),
            Html.percent(pair.winRateCi().high()),
            pair.items()));
    Html.cell(
        h,
        "net_win_rate",
        pair.netWinRate(),
        withInterval(
            Html.number(pair.netWinRate(), 1),
            Html.number(pair.netWinRateCi().low(), 1),
            Html.number(pair.netWinRateCi().high(), 1),
            pair.items()));
    h.append("</tr>\n");
    if (pair.warning() != null) {
      h.append("<tr><td colspan=\"8\" class=\"note\">⚠ ")
          .append(Html.escape(pair.warning()))
          .append("</td></tr>\n");
    }
  }

  private static String rating(HumanEvalSummary.Rating bt) {
    if (bt.rating() == null) {
      return Html.escape(bt.config()) + " – (never rated)";
    }
    String note = bt.note() == null ? "" : " ⚠ " + Html.escape(bt.note());
    return Html.escape(bt.config())
        + " "
        + withInterval(
            Html.number(bt.rating(), 1),
            Html.number(bt.ci().low(), 1),
            Html.number(bt.ci().high(), 1),
            bt.battles())
        + note;
  }

  /** "value [low, high] (n = n)". */
  private static String withInterval(String value, String low, String high, int n) {
    return value + " [" + low + ", " + high + "] (n = " + n + ")";
  }
}
