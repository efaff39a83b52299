package dev.genloom.generators.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.proto.v1.NoiseSchedule;
import dev.genloom.proto.v1.Prediction;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class SchedulerConfigTest {
  /** Stable Diffusion 1.5's scheduler_config.json. */
  static final String SD15 =
      "{\"_class_name\":\"PNDMScheduler\",\"_diffusers_version\":\"0.6.0\",\"beta_end\":0.012,"
          + "\"beta_schedule\":\"scaled_linear\",\"beta_start\":0.00085,"
          + "\"num_train_timesteps\":1000,\"set_alpha_to_one\":false,\"skip_prk_steps\":true,"
          + "\"steps_offset\":1,\"trained_betas\":null,\"clip_sample\":false}";

  private static SchedulerConfig sd15With(String extra) {
    return SchedulerConfig.parse(
        SD15.substring(0, SD15.length() - 1) + "," + extra + "}", "scheduler_config.json");
  }

  private static String refusal(Executable e) {
    return assertThrows(IllegalArgumentException.class, e).getMessage();
  }

  @Test
  void anUnknownKeyIsRefusedByName() {
    String m = refusal(() -> sd15With("\"timestep_spacng\":\"trailing\""));
    assertEquals(
        "scheduler_config.json: unknown key 'timestep_spacng' (no diffusers scheduler takes it)",
        m);
  }

  @Test
  void readNamesTheFile(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("scheduler_config.json");
    Files.writeString(file, "{\"beta_shedule\":\"linear\"}");
    String m = refusal(() -> SchedulerConfig.read(file));
    assertTrue(m.startsWith(file + ": unknown key 'beta_shedule'"), m);
  }

  @Test
  void thresholdingIsRefused() {
    SchedulerConfig c = sd15With("\"thresholding\":true");
    String m = refusal(() -> Samplers.check(SamplerKind.DDIM, c));
    assertTrue(m.startsWith("scheduler_config.json: thresholding true is not implemented"), m);
    // PNDM has no thresholding: Euler drops the key as diffusers does
    Samplers.check(SamplerKind.EULER, c);
  }

  @Test
  void solverOrderThreeIsRefused() {
    SchedulerConfig c = sd15With("\"solver_order\":3");
    String m = refusal(() -> Samplers.check(SamplerKind.DPMPP_2M, c));
    assertEquals("scheduler_config.json: solver_order 3 is not implemented (1, 2)", m);
    Samplers.check(SamplerKind.DDIM, c); // DDIM does not take solver_order
  }

  @Test
  void anUnknownSpacingIsRefused() {
    SchedulerConfig c = sd15With("\"timestep_spacing\":\"foo\"");
    for (SamplerKind kind :
        new SamplerKind[] {
          SamplerKind.DDIM, SamplerKind.DPMPP_2M, SamplerKind.EULER, SamplerKind.EULER_ANCESTRAL
        }) {
      String m = refusal(() -> Samplers.check(kind, c));
      assertTrue(
          m.startsWith("scheduler_config.json: timestep_spacing 'foo' is not implemented ("),
          kind + ": " + m);
    }
    assertEquals(
        "scheduler_config.json: timestep_spacing 'foo' is not implemented"
            + " (leading, trailing, linspace)",
        refusal(() -> Samplers.check(SamplerKind.DDIM, c)));
  }

  @Test
  void sdeAlgorithmsAreRefused() {
    SchedulerConfig c = sd15With("\"algorithm_type\":\"sde-dpmsolver++\"");
    String m = refusal(() -> Samplers.create(SamplerKind.DPMPP_2M, c, 20, 0));
    assertEquals(
        "scheduler_config.json: algorithm_type 'sde-dpmsolver++' is not implemented"
            + " (dpmsolver++)",
        m);
  }

  @Test
  void otherUnimplementedValuesAreRefusedByName() {
    assertTrue(
        refusal(() -> Samplers.check(SamplerKind.DPMPP_2M, sd15With("\"use_lu_lambdas\":true")))
            .contains("use_lu_lambdas true is not implemented"));
    assertTrue(
        refusal(
                () ->
                    Samplers.check(
                        SamplerKind.DPMPP_2M, sd15With("\"variance_type\":\"learned_range\"")))
            .contains("variance_type 'learned_range' is not implemented"));
    assertTrue(
        refusal(
                () ->
                    Samplers.check(
                        SamplerKind.EULER, sd15With("\"interpolation_type\":\"log_linear\"")))
            .contains("interpolation_type 'log_linear' is not implemented (linear)"));
    assertTrue(
        refusal(
                () ->
                    Samplers.check(
                        SamplerKind.EULER_ANCESTRAL, sd15With("\"prediction_type\":\"sample\"")))
            .contains("prediction_type 'sample' is not implemented (epsilon, v_prediction)"));
    assertTrue(
        refusal(() -> Samplers.check(SamplerKind.DDIM, sd15With("\"beta_schedule\":\"sigmoid\"")))
            .contains("beta_schedule 'sigmoid' is not implemented"));
    assertTrue(
        refusal(() -> sd15With("\"use_exponential_sigmas\":true"))
            .contains("use_exponential_sigmas true is not implemented"));
    // the same key at its inert value, as later diffusers versions write it, loads
    Samplers.check(SamplerKind.EULER, sd15With("\"use_exponential_sigmas\":false"));
    assertTrue(
        refusal(() -> Samplers.check(SamplerKind.DDIM, sd15With("\"steps_offset\":\"1\"")))
            .contains("steps_offset must be an integer"));
  }

  @Test
  void aCogVideoXConfigBuildsItsOwnSchedulersAndRefusesTheOthersByName() {
    SchedulerConfig c =
        SchedulerConfig.parse(
            "{\"_class_name\":\"CogVideoXDDIMScheduler\",\"snr_shift_scale\":3.0,"
                + "\"prediction_type\":\"v_prediction\",\"timestep_spacing\":\"trailing\"}",
            "scheduler_config.json");
    assertTrue(Samplers.create(SamplerKind.DDIM, c, 6, 0) instanceof CogVideoXDdim);
    assertTrue(Samplers.create(SamplerKind.DPMPP_2M, c, 6, 0) instanceof CogVideoXDpm);
    assertEquals(
        "sampler: euler cannot sample CogVideoX's schedule of scheduler_config.json"
            + " (CogVideoXDDIMScheduler); use ddim or dpmpp2m",
        refusal(() -> Samplers.check(SamplerKind.EULER, c)));
    assertTrue(
        refusal(() -> Samplers.create(SamplerKind.DDIM, c, 6, 0.5)).startsWith("eta: "),
        "CogVideoX's DDIM takes no eta");
    SchedulerConfig linear =
        SchedulerConfig.parse(
            "{\"_class_name\":\"CogVideoXDDIMScheduler\",\"beta_schedule\":\"linear\"}",
            "scheduler_config.json");
    assertTrue(
        refusal(() -> Samplers.check(SamplerKind.DDIM, linear))
            .contains("beta_schedule 'linear' is not implemented"));
  }

  @Test
  void keysOfOtherSchedulersAreDroppedAsDiffusersDrops() {
    // skip_prk_steps (PNDM) for DDIM, use_karras_sigmas (Euler, DPM) for DDIM, sigma_min (Euler)
    // for Euler ancestral: all dropped
    SchedulerConfig c = sd15With("\"use_karras_sigmas\":true,\"sigma_min\":0.1");
    Samplers.check(SamplerKind.DDIM, c);
    Samplers.check(SamplerKind.EULER_ANCESTRAL, c);
    DdimSampler ddim = (DdimSampler) Samplers.create(SamplerKind.DDIM, c, 50, 0);
    assertEquals(981, ddim.timestep(0));
  }

  @Test
  void missingKeysTakeTheChosenSchedulersDefaults() {
    SchedulerConfig c = SchedulerConfig.parse(SD15, "scheduler_config.json");
    // DDIM's default spacing is leading, DPM-Solver's and Euler's linspace
    DdimSampler ddim = (DdimSampler) Samplers.create(SamplerKind.DDIM, c, 10, 0);
    assertEquals(901, ddim.timestep(0));
    DpmSolverMultistep dpm = (DpmSolverMultistep) Samplers.create(SamplerKind.DPMPP_2M, c, 10, 0);
    assertEquals(999, dpm.timestep(0)); // np.linspace(0, 999, 11).round()[::-1][:-1]
    assertEquals(100, dpm.timestep(9));
    Sampler euler = Samplers.create(SamplerKind.EULER, c, 10, 0);
    assertEquals(999f, euler.modelTimestep(0));
    assertEquals(0f, euler.modelTimestep(9));
  }

  @Test
  void useDefaultValuesRemovesKeys() {
    SchedulerConfig c =
        sd15With(
            "\"timestep_spacing\":\"trailing\",\"_use_default_values\":[\"timestep_spacing\"]");
    DpmSolverMultistep dpm = (DpmSolverMultistep) Samplers.create(SamplerKind.DPMPP_2M, c, 10, 0);
    assertEquals(999, dpm.timestep(0));
    assertEquals(100, dpm.timestep(9)); // linspace, not trailing (99)
  }

  @Test
  void flowMatchingConfigsOnlyTakeEuler() {
    SchedulerConfig sd3 =
        SchedulerConfig.parse(
            "{\"_class_name\":\"FlowMatchEulerDiscreteScheduler\",\"num_train_timesteps\":1000,"
                + "\"shift\":3.0}",
            "scheduler_config.json");
    assertTrue(sd3.isFlowMatching());
    assertEquals(Prediction.PREDICTION_FLOW_VELOCITY, sd3.prediction(SamplerKind.EULER));
    assertTrue(Samplers.create(SamplerKind.EULER, sd3, 28, 0) instanceof FlowMatchEulerDiscrete);
    String m = refusal(() -> Samplers.check(SamplerKind.DDIM, sd3));
    assertTrue(m.startsWith("sampler: ddim cannot sample the flow-matching schedule"), m);
    SchedulerConfig flux =
        SchedulerConfig.parse(
            "{\"_class_name\":\"FlowMatchEulerDiscreteScheduler\",\"shift\":3.0,"
                + "\"use_dynamic_shifting\":true}",
            "scheduler_config.json");
    Samplers.check(SamplerKind.EULER, flux);
    m = refusal(() -> Samplers.create(SamplerKind.EULER, flux, 28, 0));
    assertTrue(m.contains("use_dynamic_shifting true needs mu"), m);
    assertEquals(28, Samplers.create(SamplerKind.EULER, flux, 28, 0, 0.8).steps());
  }

  @Test
  void arIsNoDiffusionSampler() {
    SchedulerConfig c = SchedulerConfig.parse(SD15, "scheduler_config.json");
    String m = refusal(() -> Samplers.create(SamplerKind.AR, c, 10, 0));
    assertTrue(m.startsWith("sampler: ar"), m);
  }

  @Test
  void trailingStepCountsThatNumpyOvershootsAreRefused() {
    SchedulerConfig c = sd15With("\"timestep_spacing\":\"trailing\"");
    String m = refusal(() -> Samplers.create(SamplerKind.DDIM, c, 61, 0));
    assertTrue(m.startsWith("steps: 61 with timestep_spacing 'trailing' gives 62"), m);
    assertEquals(60, Samplers.create(SamplerKind.DDIM, c, 60, 0).steps());
  }

  @Test
  void predictionFollowsTheConfig() {
    SchedulerConfig v = sd15With("\"prediction_type\":\"v_prediction\"");
    assertEquals(Prediction.PREDICTION_V, v.prediction(SamplerKind.DDIM));
    assertEquals(
        Prediction.PREDICTION_EPSILON,
        SchedulerConfig.parse(SD15, "x").prediction(SamplerKind.EULER));
    assertEquals(1000, v.numTrainTimesteps());
  }

  @Test
  void legacyNoiseSchedulesBecomeLeadingConfigs() {
    NoiseSchedule schedule =
        NoiseSchedule.newBuilder()
            .setType("scaled_linear")
            .setBetaStart(0.00085)
            .setBetaEnd(0.012)
            .setNumTrainTimesteps(1000)
            .setStepsOffset(1)
            .build();
    SchedulerConfig c = SchedulerConfig.fromNoiseSchedule(schedule, Prediction.PREDICTION_V);
    assertEquals(Prediction.PREDICTION_V, c.prediction(SamplerKind.DPMPP_2M));
    // DPM-Solver's own leading spacing: 1000 // 11 = 90
    DpmSolverMultistep dpm = (DpmSolverMultistep) Samplers.create(SamplerKind.DPMPP_2M, c, 10, 0);
    assertEquals(901, dpm.timestep(0));
    assertEquals(91, dpm.timestep(9));
    String m =
        refusal(
            () ->
                SchedulerConfig.fromNoiseSchedule(
                    NoiseSchedule.newBuilder().setType("flow_matching").build(),
                    Prediction.PREDICTION_FLOW_VELOCITY));
    assertTrue(m.contains("flow_matching"), m);
  }

  @Test
  void samplerKindsParseAndMapToProto() {
    assertEquals(SamplerKind.EULER_ANCESTRAL, SamplerKind.parse("Euler_A"));
    for (SamplerKind kind : SamplerKind.values()) {
      assertEquals(kind, SamplerKind.fromProto(kind.toProto()));
      assertEquals(kind, SamplerKind.parse(kind.wireName()));
    }
    assertEquals(
        "sampler: unknown 'x' (known: ddim, dpmpp2m, euler, euler_a, ar)",
        refusal(() -> SamplerKind.parse("x")));
    refusal(() -> SamplerKind.fromProto(dev.genloom.proto.v1.Sampler.SAMPLER_UNSPECIFIED));
  }
}
