package dev.genloom.pipelines;

import java.util.Arrays;
import java.util.List;

/**
 * Parses a prompt file line by line in its format, keeping the TSV header: the one place that
 * decides what a line of a prompt file is, for the pipeline's reader and for progress estimates.
 */
final class PromptLines {
  /** What becomes of each line. */
  interface Sink {
    void item(PromptItem item);

    void malformed(long line, String text, String error);
  }

  private final String source;
  private final PromptFormat format;
  private List<String> header = List.of();

  PromptLines(String source) {
    this.source = source;
    this.format = PromptFormat.forFile(source);
  }

  /** Parses one line (1-based number); blank lines, comments and the TSV header give nothing. */
  void accept(long number, String line, Sink sink) {
    if (format.skips(line)) {
      return;
    }
    if (format == PromptFormat.TSV && header.isEmpty()) {
      header = Arrays.asList(line.split("\t", -1));
      return;
    }
    try {
      sink.item(format.parse(source, number, line, header));
    } catch (IllegalArgumentException e) {
      sink.malformed(number, line, e.getMessage());
    }
  }
}
