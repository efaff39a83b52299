package dev.genloom.proto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.proto.v1.CachePolicy;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CachePolicyTextTest {
  @ParameterizedTest
  @ValueSource(
      strings = {
        "none",
        "auto",
        "auto:0.2",
        "fora:3",
        "teacache:0.1",
        "forecast:4",
        "forecast:4:1",
        "budget:2",
        "budget:2.5",
        "floor:psnr=30",
        "floor:psnr=27.5"
      })
  void everyFormRoundTrips(String text) {
    assertEquals(text, CachePolicyText.format(CachePolicyText.parse(text)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"budget:2", " BUDGET:2 "})
  void aBudgetIsItsSpeedup(String text) {
    CachePolicy policy = CachePolicyText.parse(text);
    assertEquals(CachePolicy.PolicyCase.BUDGET, policy.getPolicyCase());
    assertEquals(2.0, policy.getBudget().getSpeedup());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "budget:1",
        "budget:0.5",
        "budget:x",
        "floor:30",
        "floor:ssim=0.9",
        "floor:psnr=-1",
        "fora:0",
        "forecast:0",
        "forecast:2:3",
        "forecast:2:1:1",
        "teacache:0",
        "auto:nan",
        "sometimes"
      })
  void malformedPoliciesAreRefusedSayingWhy(String text) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> CachePolicyText.parse(text));
    assertTrue(
        e.getMessage().contains("budget:X")
            || e.getMessage().contains("floor:psnr=P")
            || e.getMessage().contains("forecast:N")
            || e.getMessage().contains("must be")
            || e.getMessage().contains("cannot parse"),
        e.getMessage());
  }
}
