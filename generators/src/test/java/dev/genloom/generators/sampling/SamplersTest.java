package dev.genloom.generators.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.genloom.generators.SeededNoise;
import dev.genloom.proto.v1.NoiseSchedule;
import dev.genloom.proto.v1.Prediction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SamplersTest {
  /** Stable Diffusion 1.x training schedule. */
  static final NoiseSchedule SD =
      NoiseSchedule.newBuilder()
          .setType("scaled_linear")
          .setBetaStart(0.00085)
          .setBetaEnd(0.012)
          .setNumTrainTimesteps(1000)
          .setStepsOffset(1)
          .build();

  static final SchedulerConfig SD_CONFIG =
      SchedulerConfig.fromNoiseSchedule(SD, Prediction.PREDICTION_EPSILON);

  private final NDManager manager = NDManager.newBaseManager();

  @AfterEach
  void close() {
    manager.close();
  }

  private NDArray gaussian(long seed) {
    return manager.create(new SeededNoise(seed).gaussians(2 * 4 * 8 * 8), new Shape(2, 4, 8, 8));
  }

  private static double maxAbs(NDArray a, NDArray b) {
    return a.sub(b).abs().max().getFloat();
  }

  @Test
  void scheduleMatchesDiffusersEndpoints() {
    DiffusionSchedule schedule = DiffusionSchedule.of(SD_CONFIG);
    // alphas_cumprod[0] = 1 - 0.00085; alphas_cumprod[999] of SD is about 0.0047.
    assertEquals(0.99915, schedule.alphaCumprod(0), 1e-6);
    assertEquals(0.0047, schedule.alphaCumprod(999), 1e-4);
    DdimSampler ddim = (DdimSampler) Samplers.create(SamplerKind.DDIM, SD_CONFIG, 10, 0);
    assertEquals(schedule.alphaCumprod(0), ddim.finalAlphaCumprod());
  }

  @Test
  void ddimUsesLeadingSpacingWithOffset() {
    DdimSampler ddim = (DdimSampler) Samplers.create(SamplerKind.DDIM, SD_CONFIG, 50, 0);
    assertEquals(981, ddim.timestep(0));
    assertEquals(961, ddim.timestep(1));
    assertEquals(1, ddim.timestep(49));
  }

  @Test
  void ddimWithAnExactEpsilonModelLandsOnTheFinalNoiseLevel() {
    DdimSampler ddim = (DdimSampler) Samplers.create(SamplerKind.DDIM, SD_CONFIG, 20, 0);
    NDArray x0 = gaussian(1).mul(0.5);
    NDArray eps = gaussian(2);
    NDArray x = ddim.addNoise(x0, eps, 0);
    for (int i = 0; i < ddim.steps(); i++) {
      x =
          ddim.step(
              i,
              eps,
              x,
              () -> {
                throw new AssertionError("eta 0 draws no noise");
              });
    }
    double a = ddim.finalAlphaCumprod();
    NDArray expected = x0.mul(Math.sqrt(a)).add(eps.mul(Math.sqrt(1 - a)));
    assertTrue(maxAbs(x, expected) < 1e-4, "error " + maxAbs(x, expected));
  }

  @Test
  void ddimEtaDrawsNoiseEveryStep() {
    Sampler ddim = Samplers.create(SamplerKind.DDIM, SD_CONFIG, 5, 1.0);
    int[] draws = {0};
    NDArray x = gaussian(3);
    for (int i = 0; i < ddim.steps(); i++) {
      x =
          ddim.step(
              i,
              gaussian(4),
              x,
              () -> {
                draws[0]++;
                return gaussian(5);
              });
    }
    assertEquals(5, draws[0]);
  }

  @Test
  void dpmSolverWithAnExactModelRecoversTheCleanSample() {
    DpmSolverMultistep dpm =
        (DpmSolverMultistep) Samplers.create(SamplerKind.DPMPP_2M, SD_CONFIG, 20, 0);
    // diffusers' DPM-Solver "leading" spacing: arange(21) * (1000 // 21), reversed, without the
    // last, + steps_offset 1
    assertEquals(20 * 47 + 1, dpm.timestep(0));
    assertEquals(47 + 1, dpm.timestep(19));
    NDArray x0 = gaussian(6).mul(0.5);
    NDArray eps = gaussian(7);
    NDArray x = dpm.addNoise(x0, eps, 0);
    for (int i = 0; i < dpm.steps(); i++) {
      // The exact epsilon for the current sample given the true x0.
      double sigma = dpm.sigma(i);
      double alpha = 1 / Math.sqrt(sigma * sigma + 1);
      NDArray exactEps = x.sub(x0.mul(alpha)).div(sigma * alpha);
      x = dpm.step(i, exactEps, x, () -> null);
    }
    assertTrue(maxAbs(x, x0) < 1e-4, "error " + maxAbs(x, x0));
  }

  @Test
  void linearQuadraticScheduleFollowsMovieGen() {
    FlowMatchEuler euler = FlowMatchEuler.linearQuadratic(50, 1000);
    assertEquals(50, euler.steps());
    assertEquals(1.0, euler.sigma(0), 1e-12);
    assertEquals(0.999, euler.sigma(1), 1e-12);
    assertEquals(0.976, euler.sigma(24), 1e-12);
    assertEquals(0.975, euler.sigma(25), 1e-12);
    assertEquals(0.0, euler.sigma(50), 1e-12);
    for (int i = 0; i < 50; i++) {
      assertTrue(euler.sigma(i + 1) < euler.sigma(i), "decreasing at " + i);
    }
    assertEquals(1000f, euler.modelTimestep(0));
  }

  @Test
  void eulerWithTheExactVelocityRecoversTheCleanSample() {
    FlowMatchEuler euler = FlowMatchEuler.linearQuadratic(25, 1000);
    NDArray x0 = gaussian(8);
    NDArray eps = gaussian(9);
    NDArray x = euler.addNoise(x0, eps, 0);
    NDArray velocity = eps.sub(x0);
    for (int i = 0; i < euler.steps(); i++) {
      x = euler.step(i, velocity, x, () -> null);
    }
    assertTrue(maxAbs(x, x0) < 1e-5, "error " + maxAbs(x, x0));
  }

  @Test
  void invalidStepCountsNameTheField() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> Samplers.create(SamplerKind.DDIM, SD_CONFIG, 0, 0));
    assertTrue(e.getMessage().startsWith("steps:"), e.getMessage());
  }
}
