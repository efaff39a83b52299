package dev.genloom.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A benchmark's prompts: one per line; blank lines and {@code #} comments are skipped. */
final class PromptFile {
  private PromptFile() {}

  static List<String> read(Path file) throws IOException {
    if (!Files.isReadable(file)) {
      throw new BenchmarkException("prompts: cannot read " + file);
    }
    List<String> prompts =
        Files.readAllLines(file).stream()
            .map(String::strip)
            .filter(l -> !l.isEmpty() && !l.startsWith("#"))
            .toList();
    if (prompts.isEmpty()) {
      throw new BenchmarkException("prompts: " + file + " has no prompt");
    }
    return prompts;
  }
}
