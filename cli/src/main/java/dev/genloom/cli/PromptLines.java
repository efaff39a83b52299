package dev.genloom.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A prompt file given on the command line: one per line; blank lines and {@code #} skipped. */
final class PromptLines {
  private PromptLines() {}

  /** The prompts of {@code file}; a file that cannot be read or holds none is the user's error. */
  static List<String> read(Path file) throws IOException {
    if (!Files.isReadable(file)) {
      throw new UserException("prompts: cannot read " + file);
    }
    List<String> lines =
        Files.readAllLines(file).stream()
            .map(String::strip)
            .filter(l -> !l.isEmpty() && !l.startsWith("#"))
            .toList();
    if (lines.isEmpty()) {
      throw new UserException("prompts: " + file + " has no prompts");
    }
    return lines;
  }
}
