package dev.genloom.evaluation.report;

import java.util.Locale;

/** Escaping and number formatting for report pages. */
final class Html {
  private Html() {}

  static String escape(String text) {
    StringBuilder out = new StringBuilder(text.length() + 16);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> out.append(c);
      }
    }
    return out.toString();
  }

  /** A number with the given decimals, or an en dash when it is missing. */
  static String number(Double value, int decimals) {
    if (value == null || !Double.isFinite(value)) {
      return "–";
    }
    return String.format(Locale.ROOT, "%." + decimals + "f", value);
  }

  static String percent(Double fraction) {
    if (fraction == null || !Double.isFinite(fraction)) {
      return "–";
    }
    return String.format(Locale.ROOT, "%.1f%%", 100 * fraction);
  }

  /**
   * A table cell showing {@code shown}, named by {@code field} (its path in the report's JSON) and
   * carrying the exact value in {@code data-value} when it is a number.
   */
  static void cell(StringBuilder h, String field, double value, String shown) {
    td(h, field, Double.isFinite(value) ? Double.toString(value) : null, shown);
  }

  /** A table cell with a whole number, as {@link #cell(StringBuilder, String, double, String)}. */
  static void cell(StringBuilder h, String field, long value, String shown) {
    td(h, field, Long.toString(value), shown);
  }

  private static void td(StringBuilder h, String field, String value, String shown) {
    h.append("<td data-field=\"").append(field).append("\"");
    if (value != null) {
      h.append(" data-value=\"").append(value).append("\"");
    }
    h.append(">").append(escape(shown)).append("</td>");
  }
}
