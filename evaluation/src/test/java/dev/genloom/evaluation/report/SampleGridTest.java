package dev.genloom.evaluation.report;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.genloom.proto.v1.RunRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which samples a grid shows, in which order. */
class SampleGridTest {
  private static RunRecord record(
      String config, String prompt, long seed, long line, RunRecord.Status status, String media) {
    return RunRecord.newBuilder()
        .setConfig(config)
        .setModel("m")
        .setPrompt(prompt)
        .setSeed(seed)
        .setSourceLine(line)
        .setStatus(status)
        .setMedia(media)
        .build();
  }

  @Test
  void rowsEveryConfigurationFilledComeFirstByThenSeedThenInputLine() {
    List<RunRecord> records =
        List.of(
            record("b", "p2", 0, 2, RunRecord.Status.STATUS_OK, "media/b-p2-0.png"),
            record("a", "p1", 1, 1, RunRecord.Status.STATUS_OK, "media/a-p1-1.png"),
            record("b", "p1", 1, 1, RunRecord.Status.STATUS_OK, "media/b-p1-1.png"),
            record("a", "p1", 0, 1, RunRecord.Status.STATUS_OK, "media/a-p1-0.png"),
            record("b", "p1", 0, 1, RunRecord.Status.STATUS_FAILED, "media/b-p1-0.png"),
            record("a", "p2", 0, 2, RunRecord.Status.STATUS_OK, "media/a-p2-0.png"),
            record("v", "p3", 0, 3, RunRecord.Status.STATUS_OK, "media/v-p3-0.mp4"));
    SampleGrid grid = SampleGrid.of(records, SampleGrid.Section.IMAGE);
    assertEquals(List.of("a", "b"), grid.configs());
    assertEquals(
        List.of(
            new SampleGrid.Row(
                "p2", 0, "", Map.of("a", "media/a-p2-0.png", "b", "media/b-p2-0.png")),
            new SampleGrid.Row(
                "p1", 1, "", Map.of("a", "media/a-p1-1.png", "b", "media/b-p1-1.png")),
            // b failed here: the row comes last, with a's sample only
            new SampleGrid.Row("p1", 0, "", Map.of("a", "media/a-p1-0.png"))),
        grid.rows());
    SampleGrid videos = SampleGrid.of(records, SampleGrid.Section.VIDEO);
    assertEquals(List.of("v"), videos.configs());
    assertEquals(0, SampleGrid.of(records, SampleGrid.Section.VIDEO_FROM_REFERENCE).rows().size());
  }

  @Test
  void aGridHoldsAtMostItsRowLimit() {
    List<RunRecord> records = new ArrayList<>();
    for (int seed = 0; seed < SampleGrid.ROWS + 3; seed++) {
      records.add(record("a", "p", seed, 1, RunRecord.Status.STATUS_OK, "media/" + seed + ".png"));
    }
    SampleGrid grid = SampleGrid.of(records, SampleGrid.Section.IMAGE);
    assertEquals(SampleGrid.ROWS, grid.rows().size());
    assertEquals(0, grid.rows().get(0).seed());
  }
}
