package dev.genloom.pipelines.testing;

import dev.genloom.proto.RunLayout;
import dev.genloom.proto.RunRecords;
import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The exactly-once audit of a finished run's output folder, shared by the pipeline tests and the
 * fleet benchmark: no request id twice in the manifest, none missing, one media file per finished
 * item and no other, and no temporary file left by an attempt that was killed or retried.
 *
 * @param records manifest lines
 * @param ok records whose item was generated
 * @param mediaFiles finished files in {@code media/}
 * @param deadLetters lines in the dead-letter file
 * @param findings what breaks exactly-once whatever the expected counts: repeated ids, records
 *     without their media, media shared by two records, temporary files
 */
public record RunAudit(
    int records, int ok, long mediaFiles, long deadLetters, List<String> findings) {

  /** Beam's text sinks write their shards under a folder with this prefix, then rename them. */
  private static final String BEAM_TEMPORARY = ".temp-beam";

  public RunAudit {
    findings = List.copyOf(findings);
  }

  /** Reads the run's manifest (through {@link RunRecords}), media and dead letters. */
  public static RunAudit of(Path runDir) {
    List<RunRecord> manifest = RunRecords.read(runDir);
    List<String> findings = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    Set<Path> media = new HashSet<>();
    int ok = 0;
    for (RunRecord record : manifest) {
      if (!ids.add(record.getRequestId())) {
        findings.add("request id " + record.getRequestId() + " is in the manifest twice");
      }
      if (record.getStatus() == RunRecord.Status.STATUS_OK) {
        ok++;
        Path file = RunRecords.media(runDir, record);
        if (!Files.isRegularFile(file)) {
          findings.add(
              "record "
                  + record.getRequestId()
                  + ": its media "
                  + record.getMedia()
                  + " is missing");
        }
        if (!media.add(file)) {
          findings.add("media " + record.getMedia() + " belongs to two records");
        }
      }
    }
    long mediaFiles = 0;
    List<String> temporaries = new ArrayList<>();
    try {
      Path mediaDir = runDir.resolve(RunLayout.MEDIA);
      if (Files.isDirectory(mediaDir)) {
        try (Stream<Path> files = Files.list(mediaDir)) {
          mediaFiles =
              files
                  .filter(f -> !f.getFileName().toString().startsWith(RunLayout.TEMPORARY))
                  .count();
        }
      }
      try (Stream<Path> all = Files.walk(runDir)) {
        all.map(f -> runDir.relativize(f).toString())
            .filter(f -> f.contains(RunLayout.TEMPORARY) || f.contains(BEAM_TEMPORARY))
            .sorted()
            .forEach(temporaries::add);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + runDir, e);
    }
    if (!temporaries.isEmpty()) {
      findings.add(temporaries.size() + " temporary file(s) left: " + temporaries);
    }
    return new RunAudit(manifest.size(), ok, mediaFiles, RunRecords.deadLetters(runDir), findings);
  }

  /**
   * Everything that says the run did not write each of {@code items} items exactly once, with
   * {@code expectedOk} of them generated; empty when it did.
   */
  public List<String> problems(int items, int expectedOk) {
    List<String> problems = new ArrayList<>(findings);
    if (records != items) {
      problems.add(records + " manifest records for " + items + " items");
    }
    if (ok != expectedOk) {
      problems.add(ok + " items generated, expected " + expectedOk);
    }
    if (mediaFiles != ok) {
      problems.add(mediaFiles + " media files for " + ok + " generated items");
    }
    return problems;
  }

  /** Throws an {@link AssertionError} that lists every problem, if there is one. */
  public void requireExactlyOnce(int items, int expectedOk) {
    List<String> problems = problems(items, expectedOk);
    if (!problems.isEmpty()) {
      throw new AssertionError("not exactly once: " + String.join("; ", problems));
    }
  }
}
