package dev.genloom.pipelines;

import dev.genloom.proto.ProtoJson;
import dev.genloom.proto.RunLayout;
import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.EmptyMatchTreatment;
import org.apache.beam.sdk.io.fs.MatchResult;
import org.apache.beam.sdk.io.fs.MoveOptions;
import org.apache.beam.sdk.io.fs.ResolveOptions.StandardResolveOptions;
import org.apache.beam.sdk.io.fs.ResourceId;
import org.apache.beam.sdk.util.MimeTypes;

/**
 * The durable record of each finished item: {@code OUT/records/<request id>.json}, one {@link
 * RunRecord} written atomically (a temporary name, then a rename) right after the item's media
 * landed. A rerun of the same launch, or a retried bundle on a distributed runner, reads it instead
 * of generating the item again, so each request id has at most one media file and one record
 * whatever was killed when. The manifest is assembled from these records.
 */
final class ItemRecords implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String out;
  private final boolean local;

  ItemRecords(String out) {
    this.out = out;
    this.local = GeneratePipeline.isLocal(out);
  }

  private ResourceId resolve(String relative) {
    return FileSystems.matchNewResource(out, true)
        .resolve(relative, StandardResolveOptions.RESOLVE_FILE);
  }

  /** The finished record of {@code requestId}, when it and its media are both on disk. */
  Optional<RunRecord> finished(String requestId) throws IOException {
    ResourceId file = resolve(RunLayout.recordPath(requestId));
    if (!exists(file)) {
      return Optional.empty();
    }
    RunRecord record;
    try (InputStream in = Channels.newInputStream(FileSystems.open(file))) {
      record =
          ProtoJson.parseRecord(
              new String(in.readAllBytes(), StandardCharsets.UTF_8), file.toString());
    } catch (IllegalArgumentException e) {
      return Optional.empty(); // unreadable: the item is generated again and the record replaced
    }
    if (record.getStatus() != RunRecord.Status.STATUS_OK
        || !record.getRequestId().equals(requestId)
        || record.getMedia().isEmpty()
        || !exists(resolve(record.getMedia()))) {
      return Optional.empty();
    }
    return Optional.of(record);
  }

  /** Writes a finished item's record: a temporary file, then a rename onto its final name. */
  void write(RunRecord record) throws IOException {
    ResourceId target = resolve(RunLayout.recordPath(record.getRequestId()));
    ResourceId temp =
        resolve(
            RunLayout.RECORDS
                + "/"
                + RunLayout.TEMPORARY
                + record.getRequestId()
                + "-"
                + UUID.randomUUID());
    try (OutputStream os = Channels.newOutputStream(FileSystems.create(temp, MimeTypes.TEXT))) {
      os.write((ProtoJson.printRecord(record) + "\n").getBytes(StandardCharsets.UTF_8));
    }
    FileSystems.rename(
        List.of(temp), List.of(target), MoveOptions.StandardMoveOptions.IGNORE_MISSING_FILES);
  }

  /**
   * Deletes what a killed run left half-written: temporary media and records, and the temporary
   * folders of the manifest and dead-letter writes. Returns how many files were removed. For the
   * launch, before anything runs.
   */
  static int removeTemporaries(String out) throws IOException {
    int removed = removeItemTemporaries(out);
    if (!GeneratePipeline.isLocal(out)) {
      return removed + remove(out, List.of(".temp-beam-*/**")); // object stores: no folders
    }
    Path dir = Path.of(out);
    if (Files.isDirectory(dir)) {
      try (DirectoryStream<Path> folders = Files.newDirectoryStream(dir, ".temp-beam-*")) {
        for (Path folder : folders) {
          try (var inside = Files.walk(folder)) {
            for (Path p : inside.sorted(java.util.Comparator.reverseOrder()).toList()) {
              Files.deleteIfExists(p);
              removed++;
            }
          }
        }
      }
    }
    return removed;
  }

  /**
   * Deletes temporary media and records only: for the end of a job, when every item is done but
   * Beam's own writes may still be finishing.
   */
  static int removeItemTemporaries(String out) throws IOException {
    return remove(
        out,
        List.of(
            RunLayout.MEDIA + "/" + RunLayout.TEMPORARY + "*",
            RunLayout.RECORDS + "/" + RunLayout.TEMPORARY + "*"));
  }

  private static int remove(String out, List<String> patterns) throws IOException {
    ResourceId dir = FileSystems.matchNewResource(out, true);
    List<ResourceId> stale = new ArrayList<>();
    for (String pattern : patterns) {
      MatchResult match =
          FileSystems.match(
              dir.resolve(pattern, StandardResolveOptions.RESOLVE_FILE).toString(),
              EmptyMatchTreatment.ALLOW);
      if (match.status() == MatchResult.Status.OK) {
        match.metadata().forEach(m -> stale.add(m.resourceId()));
      }
    }
    FileSystems.delete(stale, MoveOptions.StandardMoveOptions.IGNORE_MISSING_FILES);
    return stale.size();
  }

  /**
   * Whether {@code file} exists, by its exact name. On the local file system this asks the file
   * itself: Beam's local match lists the whole folder when the file is missing, which would make
   * each lookup cost as much as the records written so far. Object stores match a name without a
   * glob by a metadata lookup of that object.
   */
  private boolean exists(ResourceId file) throws IOException {
    if (local) {
      return Files.isRegularFile(Path.of(file.toString()));
    }
    MatchResult match = FileSystems.match(file.toString(), EmptyMatchTreatment.ALLOW);
    return match.status() == MatchResult.Status.OK && !match.metadata().isEmpty();
  }
}
