package dev.genloom.cli;

/**
 * Commands that are named in the interface but whose implementation has not landed. Each says so
 * plainly and exits with status 3; none pretends to work.
 */
final class NotYetAvailable {
  static final int EXIT_NOT_AVAILABLE = 3;

  private NotYetAvailable() {}
}
