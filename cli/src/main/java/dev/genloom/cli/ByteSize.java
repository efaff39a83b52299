package dev.genloom.cli;

import java.util.Locale;

/** Sizes as options take them: bytes, or a number with K, M, G or T (powers of 1024). */
final class ByteSize {
  private ByteSize() {}

  static long parse(String option, String text) {
    String t = text.trim().toUpperCase(Locale.ROOT);
    if (t.endsWith("B")) {
      t = t.substring(0, t.length() - 1);
    }
    long unit = 1;
    if (!t.isEmpty()) {
      switch (t.charAt(t.length() - 1)) {
        case 'K' -> unit = 1L << 10;
        case 'M' -> unit = 1L << 20;
        case 'G' -> unit = 1L << 30;
        case 'T' -> unit = 1L << 40;
        default -> unit = 1;
      }
    }
    String number = unit == 1 ? t : t.substring(0, t.length() - 1);
    try {
      double value = Double.parseDouble(number);
      if (!(value > 0) || Double.isInfinite(value)) {
        throw new NumberFormatException();
      }
      return (long) Math.ceil(value * unit);
    } catch (NumberFormatException e) {
      throw new UserException(
          option + ": expected a size such as 24G, 800M or 1048576, got '" + text + "'");
    }
  }
}
