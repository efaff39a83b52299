package dev.genloom.cli;

import java.nio.file.Path;

/**
 * The Genloom checkout the launcher runs from ({@code -Dgenloom.home}), where the shipped models
 * and examples live. Paths the user types resolve against the working directory instead; only the
 * defaults that name shipped files resolve here. Without the property (the jar run directly, or
 * tests), the working directory is the home.
 */
final class Home {
  private Home() {}

  /** The user's path when given, else the shipped file {@code relative}. */
  static Path orShipped(Path given, String relative) {
    return given != null ? given : resolve(relative);
  }

  static Path resolve(String relative) {
    String home = System.getProperty("genloom.home");
    Path path = Path.of(relative);
    return home == null || home.isBlank() || path.isAbsolute() ? path : Path.of(home).resolve(path);
  }
}
