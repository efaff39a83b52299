package dev.genloom.pipelines.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.proto.ProtoJson;
import dev.genloom.proto.RunLayout;
import dev.genloom.proto.v1.RunRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The audit finds each way a run folder can break exactly-once, and passes a clean one. */
class RunAuditTest {
  @TempDir Path run;

  private static RunRecord ok(String id) {
    return RunRecord.newBuilder()
        .setRequestId(id)
        .setStatus(RunRecord.Status.STATUS_OK)
        .setMedia(RunLayout.MEDIA + "/" + id + ".png")
        .build();
  }

  private void write(RunRecord... records) throws Exception {
    StringBuilder lines = new StringBuilder();
    for (RunRecord record : records) {
      lines.append(ProtoJson.printRecord(record)).append('\n');
      if (record.getStatus() == RunRecord.Status.STATUS_OK) {
        Files.createDirectories(run.resolve(RunLayout.MEDIA));
        Files.write(run.resolve(record.getMedia()), new byte[] {1});
      }
    }
    Files.writeString(run.resolve(RunLayout.MANIFEST), lines);
  }

  @Test
  void aCleanRunPasses() throws Exception {
    RunRecord failed =
        RunRecord.newBuilder().setRequestId("c").setStatus(RunRecord.Status.STATUS_FAILED).build();
    write(ok("a"), ok("b"), failed);
    Files.writeString(run.resolve(RunLayout.DEAD_LETTER), "{\"request_id\":\"c\"}\n");
    RunAudit audit = RunAudit.of(run);
    assertEquals(List.of(), audit.problems(3, 2));
    assertEquals(1, audit.deadLetters());
    audit.requireExactlyOnce(3, 2);
  }

  @Test
  void findsRepeatedIdsMissingMediaStrayFilesAndTemporaries() throws Exception {
    write(ok("a"), ok("a"), ok("b"));
    Files.delete(run.resolve(RunLayout.MEDIA + "/b.png"));
    Files.write(run.resolve(RunLayout.MEDIA + "/stray.png"), new byte[] {2});
    Files.write(run.resolve(RunLayout.MEDIA + "/" + RunLayout.TEMPORARY + "x"), new byte[] {3});
    RunAudit audit = RunAudit.of(run);
    List<String> problems = audit.problems(2, 2);
    String all = String.join("\n", problems);
    assertTrue(all.contains("request id a is in the manifest twice"), all);
    assertTrue(all.contains("media media/a.png belongs to two records"), all);
    assertTrue(all.contains("record b: its media media/b.png is missing"), all);
    assertTrue(all.contains("1 temporary file(s) left"), all);
    assertTrue(all.contains("3 manifest records for 2 items"), all);
    assertTrue(all.contains("3 items generated, expected 2"), all);
    AssertionError error = assertThrows(AssertionError.class, () -> audit.requireExactlyOnce(2, 2));
    assertTrue(error.getMessage().startsWith("not exactly once: "), error.getMessage());
  }
}
