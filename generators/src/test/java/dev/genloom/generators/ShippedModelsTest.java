package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.genloom.generators.graph.GraphExecutor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Conformance of the shipped model packages (models/ at the repository root) with the golden
 * tensors their Python exporters recorded: every component to 1e-4, and one full sampling run per
 * sampler, replaying the recorded noise, to 1e-3.
 */
class ShippedModelsTest {
  static final Path MODELS = Path.of("..", "models");
  static final Set<String> SHIPPED =
      Set.of(
          "shapes-features",
          "shapes-clip",
          "tiny-ldm",
          "tiny-dit-video",
          "tiny-ar-s1",
          "tiny-ar-s2");

  private static ModelPackage pkg(String name) {
    return ModelRepository.scan(MODELS)
        .find(name)
        .orElseThrow(() -> new AssertionError("models/" + name + " is not shipped"));
  }

  private static double maxAbs(NDArray a, NDArray b) {
    assertEquals(b.getShape(), a.getShape());
    return a.toType(DataType.FLOAT32, false)
        .sub(b.toType(DataType.FLOAT32, false))
        .abs()
        .max()
        .getFloat();
  }

  private static long[][] rows(NDArray ids, boolean dropLast) {
    long rowsCount = ids.getShape().get(0);
    int cols = (int) ids.getShape().get(1) - (dropLast ? 1 : 0);
    long[] flat = ids.toType(DataType.INT64, false).toLongArray();
    int stride = (int) ids.getShape().get(1);
    long[][] out = new long[(int) rowsCount][cols];
    for (int r = 0; r < rowsCount; r++) {
      System.arraycopy(flat, r * stride, out[r], 0, cols);
    }
    return out;
  }

  @Test
  void everyPackageIsShipped() {
    Set<String> names =
        ModelRepository.scan(MODELS).packages().stream()
            .map(ModelPackage::name)
            .collect(Collectors.toCollection(TreeSet::new));
    assertTrue(names.containsAll(SHIPPED), "shipped: " + names);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "shapes-features",
        "shapes-clip",
        "tiny-ldm",
        "tiny-dit-video",
        "tiny-ar-s1",
        "tiny-ar-s2"
      })
  void everyComponentMatchesItsGoldens(String name) {
    ModelPackage pkg = pkg(name);
    List<GoldenCheck.Result> results = GoldenCheck.checkComponents(pkg, Device.cpu());
    assertEquals(
        pkg.manifest().getComponentsCount(),
        results.size(),
        "every component of " + name + " has a golden file");
    for (GoldenCheck.Result result : results) {
      assertTrue(
          result.maxAbsError() <= 1e-4,
          name + "/" + result.component() + ": " + result.maxAbsError());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"ddim", "dpmpp2m"})
  void latentDiffusionSamplingReproducesTheReference(String sampler) {
    ModelPackage pkg = pkg("tiny-ldm");
    try (LatentDiffusion ldm = (LatentDiffusion) Generators.open(pkg, Device.cpu());
        NDManager scope = NDManager.newBaseManager()) {
      Map<String, NDArray> golden =
          GoldenCheck.readNpz(scope, pkg.resolve("golden/sampling_" + sampler + ".npz"));
      int steps = (int) golden.get("steps").toType(DataType.INT64, false).getLong();
      float guidance = golden.get("guidance_scale").getFloat();
      float eta = golden.get("eta").getFloat();
      long[][] cond = rows(golden.get("input_ids"), false);
      long[][] uncond = rows(golden.get("uncond_ids"), false);
      List<NoiseSource> noise = new ArrayList<>();
      for (int b = 0; b < cond.length; b++) {
        List<NDArray> draws = new ArrayList<>();
        draws.add(golden.get("init_noise").get(b + ":" + (b + 1)));
        if (golden.containsKey("step_noise")) {
          for (int i = 0; i < steps; i++) {
            draws.add(golden.get("step_noise").get(i).get(b + ":" + (b + 1)));
          }
        }
        noise.add(new ReplayNoise(draws, List.of()));
      }
      GenerationSpec spec =
          ldm.defaults("", 0).toBuilder()
              .sampler(sampler)
              .steps(steps)
              .guidanceScale(guidance)
              .eta(eta)
              .build();
      PromptBatch prompts = PromptBatch.ofRows(cond, uncond, noise);
      LatentDiffusion.Trajectory run =
          ldm.sample(
              scope, prompts, null, spec, ProgressListener.NONE, GraphExecutor.BlockObserver.NONE);
      double latentError = maxAbs(run.latents(), golden.get("latent_final"));
      double pixelError = maxAbs(ldm.decode(run.latents()), golden.get("pixels"));
      assertTrue(latentError <= 1e-3, sampler + " latent error " + latentError);
      assertTrue(pixelError <= 1e-3, sampler + " pixel error " + pixelError);
    }
  }

  @Test
  void videoSamplingReproducesTheReference() {
    ModelPackage pkg = pkg("tiny-dit-video");
    try (DiTVideo dit = (DiTVideo) Generators.open(pkg, Device.cpu());
        NDManager scope = NDManager.newBaseManager()) {
      Map<String, NDArray> golden =
          GoldenCheck.readNpz(scope, pkg.resolve("golden/sampling_euler.npz"));
      int steps = (int) golden.get("steps").toType(DataType.INT64, false).getLong();
      long[][] cond = rows(golden.get("input_ids"), false);
      long[][] uncond = rows(golden.get("uncond_ids"), false);
      List<NoiseSource> noise = new ArrayList<>();
      boolean correlated =
          golden.containsKey("frame_noise_correlation")
              && golden.get("frame_noise_correlation").getFloat() > 0f;
      assertEquals(
          pkg.manifest().getDefaults().getFrameNoiseCorrelation(),
          correlated ? golden.get("frame_noise_correlation").getFloat() : 0f,
          "the manifest's frame-noise correlation is the one the reference run used");
      for (int b = 0; b < cond.length; b++) {
        String item = b + ":" + (b + 1);
        List<NDArray> draws = new ArrayList<>();
        draws.add(golden.get("init_noise").get(item));
        if (correlated) {
          draws.add(golden.get("init_noise_shared").get(item));
        }
        noise.add(new ReplayNoise(draws, List.of()));
      }
      GenerationSpec spec =
          dit.defaults("", 0).toBuilder()
              .steps(steps)
              .guidanceScale(golden.get("guidance_scale").getFloat())
              .numFrames((int) golden.get("init_noise").getShape().get(2))
              .build();
      DiTVideo.Trajectory run =
          dit.sample(
              scope,
              cond,
              uncond,
              null,
              noise,
              spec,
              java.util.Collections.nCopies(cond.length, CacheSpec.NONE),
              ProgressListener.NONE,
              GraphExecutor.BlockObserver.NONE);
      double latentError = maxAbs(run.latents(), golden.get("latent_final"));
      assertTrue(latentError <= 1e-3, "euler latent error " + latentError);
      // decodeVideo gives [B, F, 3, H, W]; the reference stores [B, 3, F, H, W].
      NDArray pixels = dit.decodeVideo(run.latents()).transpose(0, 2, 1, 3, 4);
      double pixelError = maxAbs(pixels, golden.get("pixels"));
      assertTrue(pixelError <= 1e-3, "euler pixel error " + pixelError);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"tiny-ar-s1", "tiny-ar-s2"})
  void autoregressiveSamplingReproducesTheReference(String name) {
    ModelPackage pkg = pkg(name);
    try (TokenShuffleAR ar = (TokenShuffleAR) Generators.open(pkg, Device.cpu());
        NDManager scope = NDManager.newBaseManager()) {
      Map<String, NDArray> golden =
          GoldenCheck.readNpz(scope, pkg.resolve("golden/sampling_ar.npz"));
      long[][] cond = rows(golden.get("input_ids"), true);
      long[][] uncond = rows(golden.get("uncond_ids"), true);
      NDArray uniforms = golden.get("uniforms"); // [positions, B, s*s]
      int positions = (int) uniforms.getShape().get(0);
      int perStep = (int) uniforms.getShape().get(2);
      float[] u = uniforms.toType(DataType.FLOAT32, false).toFloatArray();
      List<NoiseSource> noise = new ArrayList<>();
      for (int b = 0; b < cond.length; b++) {
        List<Double> draws = new ArrayList<>();
        for (int p = 0; p < positions; p++) {
          for (int j = 0; j < perStep; j++) {
            draws.add((double) u[(p * cond.length + b) * perStep + j]);
          }
        }
        noise.add(new ReplayNoise(List.of(), draws));
      }
      GenerationSpec spec =
          ar.defaults("", 0).toBuilder()
              .guidanceScale(golden.get("guidance_scale").getFloat())
              .topK((int) golden.get("top_k").toType(DataType.INT64, false).getLong())
              .topP(golden.get("top_p").getFloat())
              .temperature(golden.get("temperature").getFloat())
              .build();
      TokenShuffleAR.Decoded decoded =
          ar.decode(scope, cond, uncond, noise, spec, ProgressListener.NONE);
      NDArray expectedCodes = golden.get("codes").toType(DataType.INT64, false);
      assertEquals(
          java.util.Arrays.toString(expectedCodes.toLongArray()),
          java.util.Arrays.toString(decoded.codes().toLongArray()),
          name + " codes");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"tiny-ldm", "tiny-dit-video", "tiny-ar-s1", "tiny-ar-s2"})
  void aSeedFixesTheOutputBitForBitAndBatchingDoesNotChangeIt(String name) {
    try (Generator generator = Generators.open(pkg(name), Device.cpu())) {
      String a = "a red circle on a blue background";
      String b = "a yellow square on a black background";
      if (name.equals("tiny-dit-video")) {
        a = "a red circle moving left on a blue background";
        b = "a yellow square moving up on a black background";
      }
      GenerationSpec first = fast(generator.defaults(a, 11));
      GenerationSpec second = fast(generator.defaults(b, 12));
      byte[] alone =
          generator.generate(List.of(first), ProgressListener.NONE).get(0).frames().get(0).rgb();
      byte[] again =
          generator.generate(List.of(first), ProgressListener.NONE).get(0).frames().get(0).rgb();
      List<GeneratedMedia> batch =
          generator.generate(List.of(second, first), ProgressListener.NONE);
      byte[] other =
          generator
              .generate(List.of(first.withSeed(12)), ProgressListener.NONE)
              .get(0)
              .frames()
              .get(0)
              .rgb();
      assertTrue(java.util.Arrays.equals(alone, again), name + ": same seed, same bytes");
      assertAtMostOneLevelApart(
          alone, batch.get(1).frames().get(0).rgb(), name + ": batched vs alone");
      assertTrue(!java.util.Arrays.equals(alone, other), name + ": another seed differs");
    }
  }

  /**
   * Batched GEMMs round differently from batch-1 ones, so a value may move by one 8-bit level on a
   * few pixels; anything more would mean batching changed the generation.
   */
  private static void assertAtMostOneLevelApart(byte[] a, byte[] b, String what) {
    int differing = 0;
    for (int i = 0; i < a.length; i++) {
      int d = Math.abs((a[i] & 0xFF) - (b[i] & 0xFF));
      assertTrue(d <= 1, what + ": value " + i + " differs by " + d);
      differing += d > 0 ? 1 : 0;
    }
    assertTrue(differing <= a.length / 200, what + ": " + differing + " values differ");
  }

  /** Fewer steps keep the test quick; autoregressive models have no step count. */
  private static GenerationSpec fast(GenerationSpec spec) {
    return spec.sampler().equals("ar")
        ? spec
        : spec.toBuilder().steps(Math.min(spec.steps(), 8)).build();
  }
}
