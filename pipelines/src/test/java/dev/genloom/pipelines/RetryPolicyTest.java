package dev.genloom.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
  @Test
  void backoffDoublesUpToThirtySecondsWithFullJitter() {
    List<Long> waits = new ArrayList<>();
    List<Long> caps = new ArrayList<>();
    RetryPolicy policy =
        RetryPolicy.of(8, 200)
            .with(
                cap -> {
                  caps.add(cap);
                  return cap; // the longest wait the jitter may draw
                });
    for (int retry = 0; retry < 10; retry++) {
      waits.add(policy.backoffMillis(retry));
    }
    assertEquals(
        List.of(200L, 400L, 800L, 1_600L, 3_200L, 6_400L, 12_800L, 25_600L, 30_000L, 30_000L),
        caps);
    assertEquals(caps, waits);
    // a draw outside [0, cap] is clamped into it
    RetryPolicy wild = RetryPolicy.of(8, 100).with(cap -> cap < 150 ? -5 : 10 * cap);
    assertEquals(List.of(0L, 200L), List.of(wild.backoffMillis(0), wild.backoffMillis(1)));
    long drawn = RetryPolicy.of(8, 100).backoffMillis(3);
    assertTrue(drawn >= 0 && drawn <= 800, "uniform draw in [0, 800]: " + drawn);
    assertEquals(30_000L, RetryPolicy.of(8, 1_000).capMillis(40), "no overflow on long runs");
  }

  @Test
  void retriesWhatAWorkerFleetThrowsAndFailsTheRest() {
    RetryPolicy policy = RetryPolicy.of(3, 10);
    for (Status.Code code :
        List.of(
            Status.Code.UNAVAILABLE,
            Status.Code.CANCELLED,
            Status.Code.RESOURCE_EXHAUSTED,
            Status.Code.DEADLINE_EXCEEDED)) {
      assertTrue(policy.retryable(code), code.name());
    }
    for (Status.Code code :
        List.of(
            Status.Code.INVALID_ARGUMENT,
            Status.Code.INTERNAL,
            Status.Code.UNAUTHENTICATED,
            Status.Code.PERMISSION_DENIED,
            Status.Code.NOT_FOUND)) {
      assertFalse(policy.retryable(code), code.name());
    }
    assertTrue(policy.workerDown(Status.Code.UNAVAILABLE));
    assertTrue(policy.workerDown(Status.Code.CANCELLED));
    assertFalse(policy.workerDown(Status.Code.RESOURCE_EXHAUSTED), "busy, not down");
    assertEquals(3, policy.maxAttempts());
  }

  @Test
  void settingsOutOfRangeAreRefusedByName() {
    assertEquals(
        "max-attempts: must be >= 1, got 0",
        assertThrows(IllegalArgumentException.class, () -> RetryPolicy.of(0, 10)).getMessage());
    assertEquals(
        "initial-backoff-millis: must be >= 0, got -1",
        assertThrows(IllegalArgumentException.class, () -> RetryPolicy.of(2, -1)).getMessage());
  }
}
