package dev.genloom.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class GenerateMediaTest {
  private static String refused(Supplier<GenerateMedia> build) {
    return assertThrows(IllegalArgumentException.class, build::get).getMessage();
  }

  @Test
  void eachSettingIsCheckedWhereItIsSet() {
    GenerateMedia base = GenerateMedia.to("127.0.0.1:50051", "out");
    assertEquals("batch-size: must be >= 1, got 0", refused(() -> base.withBatchSize(0)));
    assertEquals("max-in-flight: must be >= 1, got -2", refused(() -> base.withMaxInFlight(-2)));
    assertEquals(
        "call-deadline-seconds: must be >= 1, got 0",
        refused(() -> base.withCallDeadlineSeconds(0)));
    assertEquals("max-attempts: must be >= 1, got 0", refused(() -> base.withRetries(0, 10)));
    assertEquals(
        "worker-calls: 'grpc' is not batch or item", refused(() -> base.withWorkerCalls("grpc")));
    assertEquals(
        "workers: 'localhost' is not host:port", refused(() -> GenerateMedia.to("localhost", "o")));
    assertEquals("out: an output folder is required", refused(() -> GenerateMedia.to("h:1", " ")));
  }

  @Test
  void settingsAreImmutableValuesCarriedToTheDoFn() {
    GenerateMedia base = GenerateMedia.to("127.0.0.1:50051", "out");
    GenerateMedia changed =
        base.withBatchSize(4).withMaxInFlight(2).withCallDeadlineSeconds(9).withWorkerCalls("item");
    GenerateMedia.Settings s = changed.settings();
    assertEquals(4, s.batchSize());
    assertEquals(2, s.maxInFlight());
    assertEquals(9, s.callDeadlineSeconds());
    assertFalse(s.batchCalls());
    assertEquals("127.0.0.1:50051", s.workers());
    // the original is untouched
    assertEquals(8, base.settings().batchSize());
    assertEquals(16, base.settings().maxInFlight());
    assertEquals(300, base.settings().callDeadlineSeconds());
  }
}
