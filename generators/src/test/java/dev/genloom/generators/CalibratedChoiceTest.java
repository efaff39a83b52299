package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.proto.v1.CacheSchedule;
import dev.genloom.proto.v1.ModelManifest;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code budget:X} and {@code floor:psnr=P} on the calibration tables the shipped tiny-ldm (DDIM
 * 50) and tiny-dit-video (Euler 25) store: each pick is checked against the table read directly.
 */
class CalibratedChoiceTest {
  private static ModelManifest manifest(String name) {
    return ModelRepository.scan(ShippedModelsTest.MODELS)
        .find(name)
        .orElseThrow(() -> new AssertionError(name + " is not shipped"))
        .manifest();
  }

  private static List<CacheSchedule> table(ModelManifest manifest, String sampler, int steps) {
    List<CacheSchedule> table =
        manifest.getCacheSchedulesList().stream()
            .filter(s -> s.getSampler().equals(sampler) && s.getSteps() == steps)
            .toList();
    assertTrue(table.size() >= 4, manifest.getName() + " stores a calibration table");
    for (CacheSchedule s : table) {
      for (String metric :
          List.of(
              Calibration.BLOCK_EVAL_SHARE,
              Calibration.WALL_SPEEDUP,
              Calibration.PSNR_DB,
              Calibration.SSIM)) {
        assertTrue(
            CachePolicies.figure(s, metric).isPresent(),
            manifest.getName() + " delta " + s.getDelta() + " lacks " + metric);
      }
    }
    return table;
  }

  private static double get(CacheSchedule s, String metric) {
    return CachePolicies.figure(s, metric).getAsDouble();
  }

  @ParameterizedTest
  @CsvSource({"tiny-ldm, ddim, 50", "tiny-dit-video, euler, 25"})
  void theTableIsMeasuredAndConsistent(String model, String sampler, int steps) {
    List<CacheSchedule> table = table(manifest(model), sampler, steps);
    double previous = 1.0 + 1e-9;
    for (CacheSchedule s : table) {
      double share = get(s, Calibration.BLOCK_EVAL_SHARE);
      // a larger delta recomputes less; no schedule evaluates more than uncached
      assertTrue(share <= previous && share > 0, model + " share " + share);
      previous = share;
      assertTrue(get(s, Calibration.PSNR_DB) > 0, model + " psnr");
      assertTrue(get(s, Calibration.SSIM) <= 1 + 1e-9, model + " ssim");
      assertTrue(get(s, Calibration.WALL_SPEEDUP) > 0, model + " speedup");
    }
  }

  @ParameterizedTest
  @CsvSource({
    "tiny-ldm, ddim, 50, 1.2",
    "tiny-ldm, ddim, 50, 2",
    "tiny-dit-video, euler, 25, 1.5",
    "tiny-dit-video, euler, 25, 2"
  })
  void aBudgetPicksTheBestPsnrWithinItsShare(String model, String sampler, int steps, double x) {
    ModelManifest manifest = manifest(model);
    List<CacheSchedule> within =
        table(manifest, sampler, steps).stream()
            .filter(s -> get(s, Calibration.BLOCK_EVAL_SHARE) <= 1 / x + 1e-9)
            .toList();
    CacheSpec budget = new CacheSpec(CacheSpec.Kind.BUDGET, x);
    if (within.isEmpty()) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> CachePolicies.choose(manifest, budget, sampler, steps));
      assertTrue(e.getMessage().contains("largest budget it meets"), e.getMessage());
      return;
    }
    double best = within.stream().mapToDouble(s -> get(s, Calibration.PSNR_DB)).max().getAsDouble();
    CachePolicies.Choice choice = CachePolicies.choose(manifest, budget, sampler, steps);
    CacheSchedule picked = choice.schedule().orElseThrow();
    assertEquals(best, get(picked, Calibration.PSNR_DB));
    assertTrue(get(picked, Calibration.BLOCK_EVAL_SHARE) <= 1 / x + 1e-9);
    assertTrue(choice.description().contains("for budget:"), choice.description());
    assertTrue(choice.description().contains("delta=" + picked.getDelta()), choice.description());
    assertEquals(picked.getFiguresList(), choice.figures());
  }

  @ParameterizedTest
  @CsvSource({"tiny-ldm, ddim, 50", "tiny-dit-video, euler, 25"})
  void aFloorPicksTheFastestScheduleAtOrAboveIt(String model, String sampler, int steps) {
    ModelManifest manifest = manifest(model);
    List<CacheSchedule> table = table(manifest, sampler, steps);
    // a floor between the best and worst calibrated PSNR excludes some schedules
    double lo = table.stream().mapToDouble(s -> get(s, Calibration.PSNR_DB)).min().getAsDouble();
    double hi = table.stream().mapToDouble(s -> get(s, Calibration.PSNR_DB)).max().getAsDouble();
    double floor = (lo + hi) / 2;
    double fastest =
        table.stream()
            .filter(s -> get(s, Calibration.PSNR_DB) >= floor)
            .mapToDouble(s -> get(s, Calibration.WALL_SPEEDUP))
            .max()
            .getAsDouble();
    CachePolicies.Choice choice =
        CachePolicies.choose(manifest, new CacheSpec(CacheSpec.Kind.FLOOR, floor), sampler, steps);
    CacheSchedule picked = choice.schedule().orElseThrow();
    assertTrue(get(picked, Calibration.PSNR_DB) >= floor);
    assertEquals(fastest, get(picked, Calibration.WALL_SPEEDUP));

    // a floor no schedule reaches runs uncached, and says so
    CachePolicies.Choice none =
        CachePolicies.choose(manifest, new CacheSpec(CacheSpec.Kind.FLOOR, hi + 1), sampler, steps);
    assertFalse(none.schedule().isPresent());
    assertTrue(none.description().startsWith("none for floor:psnr="), none.description());
    assertEquals(dev.genloom.generators.graph.CachePolicy.NONE, none.policy());
  }

  @ParameterizedTest
  @CsvSource({"tiny-ldm, ddim, 50"})
  void schedulesWithoutMeasuredQualityAreRefusedNamingTheCure(
      String model, String sampler, int steps) {
    ModelManifest.Builder stripped = manifest(model).toBuilder();
    stripped.getCacheSchedulesBuilderList().forEach(CacheSchedule.Builder::clearFigures);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                CachePolicies.choose(
                    stripped.build(), new CacheSpec(CacheSpec.Kind.BUDGET, 2), sampler, steps));
    assertTrue(e.getMessage().contains("genloom models calibrate"), e.getMessage());
  }
}
