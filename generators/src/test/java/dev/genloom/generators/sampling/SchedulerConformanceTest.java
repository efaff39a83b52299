package dev.genloom.generators.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.genloom.generators.GoldenCheck;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Genloom's samplers against goldens recorded with diffusers 0.30.3 itself
 * (models/export/conformance/record_scheduler_goldens.py): for every case the sampler is built from
 * the same config and checked for its timesteps, init_noise_sigma, scaled model inputs, every
 * teacher-forced step (step(i, model_outputs[i], samples[i]) against samples[i + 1], with the
 * recorded noise replayed) and add_noise.
 *
 * <p>Every comparison is to 1e-5 max absolute error, even where samples reach 16000 (Euler with
 * zero terminal SNR starts at sigma 4096, where a float32 ulp is 5e-4): the samplers repeat
 * diffusers' float32 operations in diffusers' order, so those cases match bit for bit, and only
 * DPM-Solver's float32 log / exp scalars differ, by an ulp.
 */
class SchedulerConformanceTest {
  private static final double TOLERANCE = 1e-5;
  private static final Map<String, Double> WORST = new TreeMap<>();

  static Path resources() {
    try {
      return Path.of(SchedulerConformanceTest.class.getResource("/sampling/cases.json").toURI())
          .getParent();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static JsonNode cases() throws IOException {
    return new ObjectMapper().readTree(Files.readString(resources().resolve("cases.json")));
  }

  @TestFactory
  List<DynamicTest> everyCaseMatchesDiffusers() throws IOException {
    List<DynamicTest> tests = new ArrayList<>();
    JsonNode meta = cases();
    assertEquals("0.30.3", meta.get("diffusers_version").asText());
    for (JsonNode c : meta.get("cases")) {
      tests.add(DynamicTest.dynamicTest(c.get("id").asText(), () -> check(c)));
    }
    assertTrue(tests.size() >= 50, "the recorded matrix has " + tests.size() + " cases");
    return tests;
  }

  @AfterAll
  static void report() {
    if (!WORST.isEmpty()) {
      System.out.println("scheduler conformance, worst max abs error per case: " + WORST);
    }
  }

  private static double maxAbs(NDArray a, NDArray b) {
    float[] x = a.toFloatArray();
    float[] y = b.toFloatArray();
    assertEquals(y.length, x.length, "element count");
    double worst = 0;
    for (int i = 0; i < x.length; i++) {
      double d = Math.abs((double) x[i] - y[i]);
      if (!(d <= worst)) {
        worst = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
      }
    }
    return worst;
  }

  /** A case with {@code image_seq_len} is built as FluxPipeline builds its schedule. */
  private static Sampler build(
      JsonNode c, SamplerKind kind, SchedulerConfig config, int steps, double eta, double mu) {
    return c.has("image_seq_len")
        ? Samplers.createForImageSequence(kind, config, steps, eta, c.get("image_seq_len").asLong())
        : Samplers.create(kind, config, steps, eta, mu);
  }

  private static void check(JsonNode c) throws IOException {
    String id = c.get("id").asText();
    SchedulerConfig config =
        SchedulerConfig.parse(new ObjectMapper().writeValueAsString(c.get("config")), id);
    SamplerKind kind = SamplerKind.parse(c.get("sampler").asText());
    int steps = c.get("steps").asInt();
    double eta = c.get("eta").asDouble();
    double mu = c.has("mu") ? c.get("mu").asDouble() : Double.NaN;
    Samplers.check(kind, config);
    assertEquals(
        c.get("scheduler").asText(), Samplers.schedulerClass(kind, config), id + " scheduler");
    Sampler sampler = build(c, kind, config, steps, eta, mu);
    double worst = 0;
    try (NDManager manager = NDManager.newBaseManager()) {
      Map<String, NDArray> g = GoldenCheck.readNpz(manager, resources().resolve(id + ".npz"));
      float[] timesteps = g.get("timesteps").toFloatArray();
      assertEquals(timesteps.length, sampler.steps(), id + " step count");
      boolean integral = kind == SamplerKind.DDIM || kind == SamplerKind.DPMPP_2M;
      for (int i = 0; i < timesteps.length; i++) {
        // Karras and flow-match timesteps are float32 results of float64 arithmetic
        double tol = integral ? 0 : 1e-4;
        assertEquals(timesteps[i], sampler.modelTimestep(i), tol, id + " timestep " + i);
      }
      double sigma0 = g.get("init_noise_sigma").toFloatArray()[0];
      assertEquals(sigma0, sampler.initNoiseSigma(), 1e-6 * Math.max(1, sigma0), id + " sigma0");

      NDArray samples = g.get("samples");
      NDArray outputs = g.get("model_outputs");
      NDArray scaled = g.get("scaled_inputs");
      NDArray noise = g.get("step_noise");
      // CogVideoX's DPM draws once or twice a step: its draws are recorded in order, with a count
      long[] drawsPerStep =
          g.containsKey("draws_per_step") ? g.get("draws_per_step").toLongArray() : null;
      int[] cursor = {0};
      for (int i = 0; i < timesteps.length; i++) {
        NDArray x = samples.get(i);
        NDArray expectedScaled = scaled.get(i);
        double e = maxAbs(sampler.scaleModelInput(x, i), expectedScaled);
        assertTrue(e <= TOLERANCE, id + " scale_model_input " + i + ": " + e);
        worst = Math.max(worst, e);
        int step = i;
        int[] drawn = {0};
        Supplier<NDArray> supplier =
            () -> {
              if (noise == null) {
                throw new AssertionError(id + " step " + step + " draws noise diffusers does not");
              }
              drawn[0]++;
              return drawsPerStep == null ? noise.get(step) : noise.get(cursor[0]++);
            };
        assertEquals(noise != null, sampler.drawsNoise(i), id + " drawsNoise " + i);
        NDArray expected = samples.get(i + 1);
        NDArray actual = sampler.step(i, outputs.get(i), x, supplier);
        long expectedDraws = drawsPerStep != null ? drawsPerStep[i] : noise != null ? 1 : 0;
        assertEquals(expectedDraws, drawn[0], id + " noise draws at step " + i);
        e = maxAbs(actual, expected);
        assertTrue(e <= TOLERANCE, id + " step " + i + ": " + e);
        worst = Math.max(worst, e);
      }
      long[] indices = g.get("add_noise_index").toLongArray();
      NDArray noised = g.get("add_noise");
      Sampler fresh = build(c, kind, config, steps, eta, mu);
      for (int k = 0; k < indices.length; k++) {
        NDArray expected = noised.get(k);
        NDArray actual =
            fresh.addNoise(g.get("add_noise_clean"), g.get("add_noise_noise"), (int) indices[k]);
        double e = maxAbs(actual, expected);
        assertTrue(e <= TOLERANCE, id + " add_noise at " + indices[k] + ": " + e);
        worst = Math.max(worst, e);
      }
    }
    synchronized (WORST) {
      WORST.put(id, worst);
    }
  }

  /** The betas and alphas_cumprod diffusers computed, to the bit where the float32 math allows. */
  @Test
  void trainingSchedulesMatchDiffusers() throws IOException {
    double worstBeta = 0;
    double worstAlpha = 0;
    double worstCogVideoX = 0;
    try (NDManager manager = NDManager.newBaseManager()) {
      for (JsonNode c : cases().get("cases")) {
        String id = c.get("id").asText();
        SchedulerConfig config =
            SchedulerConfig.parse(new ObjectMapper().writeValueAsString(c.get("config")), id);
        if (config.isFlowMatching()) {
          continue;
        }
        SamplerKind kind = SamplerKind.parse(c.get("sampler").asText());
        String cls = Samplers.schedulerClass(kind, config);
        if (config.isCogVideoX()) {
          // float64 throughout in diffusers: compared in float64
          CogVideoXSchedule cog = new CogVideoXSchedule(config.params(cls), c.get("steps").asInt());
          Map<String, NDArray> g = GoldenCheck.readNpz(manager, resources().resolve(id + ".npz"));
          double[] expected = g.get("alphas_cumprod_f64").toDoubleArray();
          for (int t = 0; t < expected.length; t++) {
            worstCogVideoX = Math.max(worstCogVideoX, Math.abs(expected[t] - cog.alphasCumprod[t]));
          }
          continue;
        }
        DiffusionSchedule schedule =
            DiffusionSchedule.of(config.params(cls), !cls.equals(SchedulerConfig.DDIM));
        Map<String, NDArray> g = GoldenCheck.readNpz(manager, resources().resolve(id + ".npz"));
        float[] betas = g.get("betas").toFloatArray();
        float[] alphas = g.get("alphas_cumprod").toFloatArray();
        for (int t = 0; t < betas.length; t++) {
          worstBeta = Math.max(worstBeta, Math.abs(betas[t] - schedule.beta(t)));
          worstAlpha = Math.max(worstAlpha, Math.abs(alphas[t] - schedule.alphaCumprod(t)));
        }
      }
    }
    assertTrue(worstBeta <= 1e-9, "betas off by " + worstBeta);
    assertTrue(worstAlpha <= 1e-7, "alphas_cumprod off by " + worstAlpha);
    assertTrue(worstCogVideoX <= 1e-12, "CogVideoX alphas_cumprod off by " + worstCogVideoX);
  }

  @Test
  void guidanceRescaleMatchesDiffusers() {
    try (NDManager manager = NDManager.newBaseManager()) {
      Map<String, NDArray> g = GoldenCheck.readNpz(manager, resources().resolve("guidance.npz"));
      double scale = g.get("guidance_scale").toDoubleArray()[0];
      double rescale = g.get("guidance_rescale").toDoubleArray()[0];
      NDArray plain = Guidance.combine(g.get("uncond"), g.get("cond"), scale, 0);
      double e = maxAbs(plain, g.get("cfg"));
      assertTrue(e <= 1e-5, "cfg error " + e);
      NDArray rescaled = Guidance.combine(g.get("uncond"), g.get("cond"), scale, rescale);
      e = maxAbs(rescaled, g.get("result"));
      assertTrue(e <= 1e-5, "rescaled cfg error " + e);
      // the rescale changes the result by far more than the tolerance
      assertTrue(maxAbs(rescaled, plain) > 0.1, "rescale has an effect");
    }
  }
}
