package dev.genloom.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.proto.RunLayout;
import dev.genloom.proto.v1.RunRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ItemRecordsTest {
  @TempDir Path out;

  private void earlierRecord(String requestId, String status) throws Exception {
    Files.createDirectories(out.resolve(RunLayout.RECORDS));
    Files.createDirectories(out.resolve(RunLayout.MEDIA));
    Files.writeString(out.resolve("media/" + requestId + ".png"), "png");
    // a record as the version before the status enum wrote it
    Files.writeString(
        out.resolve(RunLayout.recordPath(requestId)),
        "{\"request_id\":\""
            + requestId
            + "\",\"prompt\":\"a red circle on a blue background\",\"seed\":\"0\","
            + "\"model\":\"tiny-ldm\",\"config\":\"tiny-ldm\",\"worker\":\"127.0.0.1:40547\","
            + "\"status\":\""
            + status
            + "\",\"media\":\"media/"
            + requestId
            + ".png\",\"wall_ms\":\"120\",\"block_evals\":\"40\",\"block_skips\":\"0\","
            + "\"item_id\":\"\",\"source_line\":\"1\",\"reference_image\":\"\","
            + "\"negative_prompt\":\"\",\"error\":\"\",\"compute_ms\":\"100\",\"batch_size\":4,"
            + "\"truncated_tokens\":0,\"width\":32,\"height\":32,\"baseline\":\"\"}\n");
  }

  @Test
  void aRecordAnEarlierVersionWroteStillMarksItsItemFinished() throws Exception {
    earlierRecord("0123abcd", "ok");
    RunRecord record = new ItemRecords(out.toString()).finished("0123abcd").orElseThrow();
    assertEquals(RunRecord.Status.STATUS_OK, record.getStatus());
    assertEquals(40, record.getBlockEvals());
    assertEquals(4, record.getBatchSize());
  }

  @Test
  void aFailedRecordOfAnEarlierVersionIsGeneratedAgain() throws Exception {
    earlierRecord("4567ef01", "failed");
    assertTrue(new ItemRecords(out.toString()).finished("4567ef01").isEmpty());
  }

  @Test
  void aWrittenRecordIsReadBack() throws Exception {
    earlierRecord("89ab", "ok");
    ItemRecords records = new ItemRecords(out.toString());
    RunRecord record = records.finished("89ab").orElseThrow().toBuilder().setBlockSkips(12).build();
    records.write(record);
    assertTrue(
        Files.readString(out.resolve(RunLayout.recordPath("89ab")))
            .contains("\"status\":\"STATUS_OK\""));
    assertEquals(record, records.finished("89ab").orElseThrow());
  }
}
