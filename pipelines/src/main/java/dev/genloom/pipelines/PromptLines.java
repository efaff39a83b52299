package dev.genloom.pipelines;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
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

  /**
   * Reads a whole prompt file: each line is decoded as strict UTF-8, and a line that is not valid
   * UTF-8, or holds control characters (binary data), is malformed rather than decoded with
   * replacement characters.
   */
  void readAll(InputStream in, Sink sink) throws IOException {
    InputStream buffered = new BufferedInputStream(in);
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    long number = 0;
    for (int b = buffered.read(); ; b = buffered.read()) {
      if (b == '\n' || b < 0) {
        if (b >= 0 || line.size() > 0) {
          acceptBytes(++number, line.toByteArray(), sink);
        }
        line.reset();
        if (b < 0) {
          return;
        }
      } else {
        line.write(b);
      }
    }
  }

  private void acceptBytes(long number, byte[] bytes, Sink sink) {
    int length = bytes.length;
    if (length > 0 && bytes[length - 1] == '\r') {
      length--;
    }
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes, 0, length))
              .toString();
    } catch (CharacterCodingException e) {
      sink.malformed(
          number,
          new String(bytes, 0, Math.min(length, 80), StandardCharsets.UTF_8),
          "not valid UTF-8 text (a binary file?)");
      return;
    }
    if (number == 1 && text.startsWith("\uFEFF")) {
      text = text.substring(1); // a byte order mark
    }
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        sink.malformed(
            number,
            text.substring(0, Math.min(text.length(), 80)),
            String.format(
                java.util.Locale.ROOT,
                "control character U+%04X at column %d (a binary file?)",
                (int) c,
                i + 1));
        return;
      }
    }
    accept(number, text, sink);
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
