package dev.genloom.evaluation;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The attributes a shapes-domain prompt asks for: {@code a {color} {shape} [moving {direction}] on
 * a {color} background}.
 */
public record ShapesPrompt(String shape, String foreground, String background, String direction) {
  private static final Pattern PROMPT =
      Pattern.compile(
          "^an? (\\w+) (\\w+)(?: moving (\\w+))? on an? (\\w+) background$",
          Pattern.CASE_INSENSITIVE);

  public static Optional<ShapesPrompt> parse(String prompt) {
    Matcher m = PROMPT.matcher(prompt.strip());
    if (!m.matches()) {
      return Optional.empty();
    }
    return Optional.of(
        new ShapesPrompt(
            m.group(2).toLowerCase(java.util.Locale.ROOT),
            m.group(1).toLowerCase(java.util.Locale.ROOT),
            m.group(4).toLowerCase(java.util.Locale.ROOT),
            m.group(3) == null ? "" : m.group(3).toLowerCase(java.util.Locale.ROOT)));
  }
}
