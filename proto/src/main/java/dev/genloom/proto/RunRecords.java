package dev.genloom.proto;

import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads a pipeline run's {@code manifest.jsonl} and resolves its media inside the run folder. */
public final class RunRecords {

  private RunRecords() {}

  /** Every record of the run, in file order; a line that does not parse names its line number. */
  public static List<RunRecord> read(Path runDir) {
    Path manifest = runDir.resolve(RunLayout.MANIFEST);
    if (!Files.isRegularFile(manifest)) {
      throw new IllegalArgumentException(
          "run: "
              + runDir
              + " has no "
              + RunLayout.MANIFEST
              + " (is it the --out folder of genloom run?)");
    }
    List<RunRecord> records = new ArrayList<>();
    try {
      List<String> lines = Files.readAllLines(manifest);
      for (int i = 0; i < lines.size(); i++) {
        if (!lines.get(i).isBlank()) {
          records.add(ProtoJson.parseRecord(lines.get(i), manifest + ":" + (i + 1)));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + manifest, e);
    }
    return records;
  }

  /** Lines in the run's dead-letter file (0 when there is none). */
  public static long deadLetters(Path runDir) {
    Path file = runDir.resolve(RunLayout.DEAD_LETTER);
    if (!Files.isRegularFile(file)) {
      return 0;
    }
    try (var lines = Files.lines(file)) {
      return lines.filter(l -> !l.isBlank()).count();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /**
   * The media file of a record, which must stay inside the run folder: a manifest cannot point the
   * evaluator at other files.
   */
  public static Path media(Path runDir, RunRecord record) {
    Path root = runDir.toAbsolutePath().normalize();
    Path file = root.resolve(record.getMedia()).normalize();
    if (record.getMedia().isEmpty() || !file.startsWith(root)) {
      throw new IllegalArgumentException(
          "run: media '"
              + record.getMedia()
              + "' of "
              + record.getRequestId()
              + " is not a file inside "
              + runDir);
    }
    return file;
  }
}
