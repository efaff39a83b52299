package dev.genloom.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Which configuration a cached one is compared with in the report. */
class BaselinesTest {
  private static ConfigMetrics config(
      String id, String task, long evalsPerItem, long skips, double computeMs) {
    return new ConfigMetrics(
        id,
        "tiny-dit-video",
        ConfigMetrics.Media.VIDEO,
        task,
        10,
        0,
        80,
        1000,
        computeMs,
        computeMs,
        evalsPerItem * 10,
        skips,
        id,
        1.0,
        Double.NaN,
        false,
        Double.NaN,
        Double.NaN,
        null,
        Double.NaN,
        null);
  }

  private static Map<String, ConfigMetrics> byId(List<ConfigMetrics> configs) {
    return configs.stream().collect(Collectors.toMap(ConfigMetrics::id, Function.identity()));
  }

  @Test
  void aCachedConfigurationIsComparedWithTheUncachedOneOfTheSameModelAndTask() {
    List<ConfigMetrics> configs =
        List.of(
            config("t2v_none", "text-to-video", 100, 0, 70),
            config("t2v_fora-2", "text-to-video", 60, 400, 36.5),
            // image-to-video costs more per item; it must not become text-to-video's baseline
            config("i2v", "image-to-video", 150, 0, 62));
    Map<String, ConfigMetrics> out = byId(RunEvaluator.withBaselines(configs, Map.of()));
    assertEquals("t2v_none", out.get("t2v_fora-2").baseline());
    assertEquals(70 / 36.5, out.get("t2v_fora-2").speedup(), 1e-9);
    assertEquals("i2v", out.get("i2v").baseline(), "its own task's baseline is itself");
    assertEquals("t2v_none", out.get("t2v_none").baseline());
  }

  @Test
  void aGridEntryMayNameItsBaseline() {
    List<ConfigMetrics> configs =
        List.of(
            config("t2v_none", "text-to-video", 100, 0, 70),
            config("t2v_fora-2", "text-to-video", 60, 400, 35),
            config("t2v_slow", "text-to-video", 90, 0, 105));
    Map<String, ConfigMetrics> out =
        byId(RunEvaluator.withBaselines(configs, Map.of("t2v_fora-2", "t2v_slow")));
    assertEquals("t2v_slow", out.get("t2v_fora-2").baseline());
    assertEquals(3.0, out.get("t2v_fora-2").speedup(), 1e-9);
  }
}
