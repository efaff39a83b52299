package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.generators.sampling.FlowMatchEulerDiscrete;
import dev.genloom.generators.sampling.Sampler;
import dev.genloom.generators.sampling.SamplerKind;
import dev.genloom.generators.sampling.Samplers;
import dev.genloom.generators.sampling.SchedulerConfig;
import dev.genloom.proto.v1.Size;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The random-weight fixtures exported from real diffusers pipelines (SD 1.5-, SD 2.x-v-, SDXL-,
 * SD3- and FLUX.1-dev-shaped, and SD 1.5 under a flow-matching schedule) against what diffusers
 * itself computed: every component, and every recorded sampling run (DDIM, DPM-Solver++(2M), Euler,
 * Euler ancestral; flow-match Euler on the flow-matching fixtures, FluxPipeline's schedule on Flux;
 * two sizes; classifier-free guidance, or Flux's guidance input) replayed through the Java runtime,
 * final latents to 1e-4; then what the runtime refuses, by name.
 */
class DiffusersFixturesTest {
  static final Path MODELS = Path.of("..", "models");

  private static ModelPackage pkg(String name) {
    return ModelPackage.open(MODELS.resolve(name));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "fixture-sd15",
        "fixture-sd2-v",
        "fixture-sdxl",
        "fixture-sd15-flow",
        "fixture-sd3",
        "fixture-flux"
      })
  void javaMatchesDiffusersForEverySamplerAndSize(String name) throws IOException {
    ModelPackage pkg = pkg(name);
    List<GoldenCheck.Result> components = GoldenCheck.checkComponents(pkg, Device.cpu());
    assertEquals(pkg.manifest().getComponentsCount(), components.size());
    for (GoldenCheck.Result r : components) {
      assertTrue(r.maxAbsError() <= 1e-4, name + "/" + r.component() + ": " + r.maxAbsError());
    }
    List<SamplingCheck.Result> runs = SamplingCheck.check(pkg, Device.cpu());
    Set<String> covered = new TreeSet<>();
    for (SamplingCheck.Result r : runs) {
      assertTrue(r.tokenIdsMatch(), name + " " + r.subject() + ": token ids differ");
      assertTrue(r.latentError() <= 1e-4, name + " " + r.subject() + ": " + r.latentError());
      assertTrue(r.pixelError() <= 1e-3, name + " " + r.subject() + ": " + r.pixelError());
      assertTrue(r.timestepError() <= 1e-4, name + " " + r.subject() + ": " + r.timestepError());
      String[] parts = r.subject().split("/");
      covered.add(parts[1] + "@" + parts[2]);
    }
    // a flow-matching schedule has one sampler: euler builds FlowMatchEulerDiscreteScheduler
    Set<String> samplers =
        schedulerClass(pkg).equals("FlowMatchEulerDiscreteScheduler")
            ? Set.of("euler")
            : Set.of("ddim", "dpmpp2m", "euler", "euler_a");
    Set<String> expected = new TreeSet<>();
    for (String sampler : samplers) {
      expected.add(sampler + "@64x64");
      expected.add(sampler + "@96x64");
    }
    assertEquals(expected, covered, name + " records every sampler at two sizes");
  }

  private static String schedulerClass(ModelPackage pkg) throws IOException {
    Path config = pkg.resolve(pkg.manifest().getSchedule().getConfigFile());
    return new ObjectMapper().readTree(config.toFile()).get("_class_name").asText();
  }

  @Test
  void generatesAtTheRequestedSizeAndRefusesOthersByName() {
    try (Generator generator = Generators.open(pkg("fixture-sd15"), Device.cpu())) {
      GenerationSpec spec =
          generator.defaults("a red cube", 3).toBuilder().steps(2).size(96, 64).build();
      GeneratedMedia media = generator.generate(List.of(spec), ProgressListener.NONE).get(0);
      assertEquals(96, media.frames().get(0).width());
      assertEquals(64, media.frames().get(0).height());
      assertTrue(
          !((LatentDiffusion) generator).components().loadedNames().contains("vae_encoder"),
          "text-to-image never loads the VAE encoder");
      IllegalArgumentException odd =
          assertThrows(
              IllegalArgumentException.class,
              () -> generator.validate(spec.toBuilder().size(100, 64).build()));
      assertTrue(
          odd.getMessage().startsWith("width: 100x64 is not a multiple of 32"), odd.getMessage());
      IllegalArgumentException big =
          assertThrows(
              IllegalArgumentException.class,
              () -> generator.validate(spec.toBuilder().size(512, 64).build()));
      assertTrue(big.getMessage().contains("outside the sizes"), big.getMessage());
      IllegalArgumentException skip =
          assertThrows(
              IllegalArgumentException.class,
              () -> generator.validate(spec.toBuilder().clipSkip(9).build()));
      assertTrue(
          skip.getMessage().startsWith("clip_skip: clip_skip 9 is too large"), skip.getMessage());
      generator.validate(spec.toBuilder().clipSkip(1).build());
      IllegalArgumentException sampler =
          assertThrows(
              IllegalArgumentException.class,
              () -> generator.validate(spec.toBuilder().sampler("pndm").build()));
      assertTrue(sampler.getMessage().contains("unknown 'pndm'"), sampler.getMessage());
    }
  }

  @Test
  void truncatedPromptsAreCountedAndRefusedOnRequest() {
    try (Generator generator = Generators.open(pkg("fixture-sdxl"), Device.cpu())) {
      String longPrompt = "a quiet harbour town at dawn with boats and gulls, ".repeat(12);
      GenerationSpec spec = generator.defaults(longPrompt, 1).toBuilder().steps(2).build();
      GeneratedMedia media = generator.generate(List.of(spec), ProgressListener.NONE).get(0);
      assertTrue(media.truncatedTokens() > 0, "dropped tokens are counted");
      IllegalArgumentException refused =
          assertThrows(
              IllegalArgumentException.class,
              () -> generator.validate(spec.toBuilder().refuseTruncation(true).build()));
      assertTrue(refused.getMessage().startsWith("prompt: needs "), refused.getMessage());
    }
  }

  @Test
  void theFlowMatchingFixtureSamplesWithFlowMatchEulerAndRefusesTheOthersByName()
      throws IOException {
    JsonNode sidecar =
        new ObjectMapper()
            .readTree(
                MODELS.resolve("fixture-sd15-flow/golden/sampling_euler_64x64.json").toFile());
    assertEquals("FlowMatchEulerDiscreteScheduler", sidecar.get("scheduler").asText());
    try (LatentDiffusion ldm =
        (LatentDiffusion) Generators.open(pkg("fixture-sd15-flow"), Device.cpu())) {
      GenerationSpec spec = ldm.defaults("a red cube on a table", 1).toBuilder().steps(6).build();
      assertEquals("euler", spec.sampler());
      assertTrue(ldm.sampler(spec) instanceof FlowMatchEulerDiscrete);
      IllegalArgumentException ddim =
          assertThrows(
              IllegalArgumentException.class,
              () -> ldm.validate(spec.toBuilder().sampler("ddim").build()));
      // named by package and file: the message reaches remote clients, not the worker's folders
      assertEquals(
          "sampler: ddim cannot sample the flow-matching schedule of"
              + " fixture-sd15-flow/scheduler/scheduler_config.json"
              + " (FlowMatchEulerDiscreteScheduler); use euler",
          ddim.getMessage());
    }
  }

  @Test
  void aFlowMatchingUnetPackageWithDynamicShiftingIsRefusedAtLoad(@TempDir Path dir)
      throws IOException {
    Path copy = copy("fixture-sd15-flow", dir);
    Path config = copy.resolve("scheduler/scheduler_config.json");
    ObjectNode c = (ObjectNode) new ObjectMapper().readTree(config.toFile());
    c.put("use_dynamic_shifting", true);
    Files.writeString(config, c.toString());
    ModelPackageException e =
        assertThrows(
            ModelPackageException.class,
            () -> Generators.open(ModelPackage.open(copy), Device.cpu()).close());
    assertTrue(e.getMessage().contains("use_dynamic_shifting true"), e.getMessage());
  }

  @Test
  void fluxPipelineScheduleFollowsTheRequestedImageSequenceLength(@TempDir Path dir)
      throws IOException {
    Path copy = copy("fixture-sd15-flow", dir);
    Path config = copy.resolve("scheduler/scheduler_config.json");
    ObjectMapper json = new ObjectMapper();
    ObjectNode c = (ObjectNode) json.readTree(config.toFile());
    c.put("use_dynamic_shifting", true);
    Files.writeString(config, c.toString());
    Path manifest = copy.resolve(ModelPackage.MANIFEST_FILE);
    ObjectNode root = (ObjectNode) json.readTree(manifest.toFile());
    root.with("schedule").put("sequencePatch", 2);
    json.writeValue(manifest.toFile(), root);
    try (LatentDiffusion ldm =
        (LatentDiffusion) Generators.open(ModelPackage.open(copy), Device.cpu())) {
      GenerationSpec small =
          ldm.defaults("a red cube", 1).toBuilder().steps(6).size(64, 64).build();
      GenerationSpec wide = small.toBuilder().size(96, 64).build();
      SchedulerConfig scheduler = SchedulerConfig.read(config, "scheduler_config.json");
      // latents 8x8 and 12x8 in 2x2 patches: 16 and 24 tokens
      Sampler expected16 = Samplers.createForImageSequence(SamplerKind.EULER, scheduler, 6, 0, 16);
      Sampler expected24 = Samplers.createForImageSequence(SamplerKind.EULER, scheduler, 6, 0, 24);
      Sampler s16 = ldm.sampler(small);
      Sampler s24 = ldm.sampler(wide);
      for (int i = 0; i < 6; i++) {
        assertEquals(expected16.modelTimestep(i), s16.modelTimestep(i), "step " + i);
        assertEquals(expected24.modelTimestep(i), s24.modelTimestep(i), "step " + i);
      }
      assertTrue(s24.modelTimestep(1) > s16.modelTimestep(1), "a longer sequence shifts more");
      assertEquals(1000f, s16.modelTimestep(0), 1e-3, "FluxPipeline's sigmas start at 1");
    }
  }

  @Test
  void clipSkipChangesThePromptRowsOnlyAsDiffusersDoes() {
    try (LatentDiffusion ldm =
            (LatentDiffusion) Generators.open(pkg("fixture-sd15"), Device.cpu());
        NDManager scope = NDManager.newBaseManager()) {
      GenerationSpec spec =
          ldm.defaults("a red cube on a table", 1).toBuilder().negativePrompt("blurry").build();
      PromptBatch prompts = PromptBatch.of(ldm.text().tokenizers(), List.of(spec));
      NDArray plain = ldm.text().encode(scope, prompts, true, 0).hiddenStates();
      NDArray skipped = ldm.text().encode(scope, prompts, true, 1).hiddenStates();
      assertEquals(0f, skipped.get(0).sub(plain.get(0)).abs().max().getFloat(), "negative row");
      assertTrue(skipped.get(1).sub(plain.get(1)).abs().max().getFloat() > 1e-3, "prompt row");
      NDArray unguided = ldm.text().encode(scope, prompts, false, 1).hiddenStates();
      assertEquals(0f, unguided.get(0).sub(skipped.get(1)).abs().max().getFloat());
    }
  }

  @Test
  void sd3ConditioningPadsTheClipFeaturesAndAppendsT5() {
    try (LatentDiffusion ldm = (LatentDiffusion) Generators.open(pkg("fixture-sd3"), Device.cpu());
        NDManager scope = NDManager.newBaseManager()) {
      GenerationSpec a =
          ldm.defaults("a red cube on a table", 1).toBuilder().negativePrompt("blurry").build();
      GenerationSpec b = a.toBuilder().prompt("a blue sphere").negativePrompt("").build();
      PromptBatch prompts = PromptBatch.of(ldm.text().tokenizers(), List.of(a, b));
      TextConditioner.Conditioning plain = ldm.text().encode(scope, prompts, true, 0);
      // rows [uncond a, uncond b, cond a, cond b]; 77 CLIP tokens (16 + 32 features, zero-padded
      // to T5's 64), then T5's 256 tokens
      assertEquals(new Shape(4, 77 + 256, 64), plain.hiddenStates().getShape());
      assertEquals(new Shape(4, 16 + 32), plain.pooled().getShape());
      NDArray clipPad = plain.hiddenStates().get(":, :77, 48:");
      assertEquals(0f, clipPad.abs().max().getFloat(), "CLIP features padded with zeros");
      assertTrue(plain.hiddenStates().get(":, 77:, :").abs().max().getFloat() > 0, "T5 part");
      TextConditioner.Conditioning skipped = ldm.text().encode(scope, prompts, true, 1);
      NDArray diff = skipped.hiddenStates().sub(plain.hiddenStates()).abs();
      assertEquals(0f, diff.get(":2").max().getFloat(), "negative rows keep their layer");
      assertTrue(diff.get("2:, :77, :48").max().getFloat() > 1e-4, "prompt rows skip a layer");
      // T5 runs again on the same ids; its float32 reductions may differ in the last bit between
      // two runs on some CPUs, which a skipped layer (above: > 1e-4) is far from
      assertTrue(diff.get(":, 77:, :").max().getFloat() <= 1e-6, "clip_skip leaves T5 alone");
      assertTrue(
          skipped.pooled().sub(plain.pooled()).abs().max().getFloat() <= 1e-6,
          "the pooled features come from the last layer whatever clip_skip is");
    }
  }

  @Test
  void sd3WithoutT5IsConditionedOnZerosAndItsBlocksTakeTheShorterText(@TempDir Path dir)
      throws IOException {
    Path copy = copy("fixture-sd3", dir);
    Path manifest = copy.resolve(ModelPackage.MANIFEST_FILE);
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = (ObjectNode) json.readTree(manifest.toFile());
    ObjectNode text = (ObjectNode) root.get("text");
    ((ArrayNode) text.get("encoders")).remove(2);
    text.put("zeroContextLength", 77);
    json.writeValue(manifest.toFile(), root);
    try (LatentDiffusion ldm =
            (LatentDiffusion) Generators.open(ModelPackage.open(copy), Device.cpu());
        NDManager scope = NDManager.newBaseManager()) {
      GenerationSpec spec = ldm.defaults("a red cube", 1).toBuilder().steps(2).build();
      PromptBatch prompts = PromptBatch.of(ldm.text().tokenizers(), List.of(spec));
      NDArray states = ldm.text().encode(scope, prompts, true, 0).hiddenStates();
      assertEquals(new Shape(2, 77 + 77, 64), states.getShape());
      assertEquals(0f, states.get(":, 77:, :").abs().max().getFloat());
      GeneratedMedia media = ldm.generate(List.of(spec), ProgressListener.NONE).get(0);
      assertEquals(64, media.frames().get(0).width());
    }
  }

  @Test
  void sd3ServesEveryMultipleOf16InsideItsPositionGrid() {
    try (Generator generator = Generators.open(pkg("fixture-sd3"), Device.cpu())) {
      GenerationSpec spec =
          generator.defaults("a red cube", 3).toBuilder().steps(2).size(80, 96).build();
      GeneratedMedia media = generator.generate(List.of(spec), ProgressListener.NONE).get(0);
      assertEquals(80, media.frames().get(0).width());
      assertEquals(96, media.frames().get(0).height());
      IllegalArgumentException odd =
          assertThrows(
              IllegalArgumentException.class,
              () -> generator.validate(spec.toBuilder().size(72, 64).build()));
      assertTrue(odd.getMessage().contains("not a multiple of 16"), odd.getMessage());
      IllegalArgumentException big =
          assertThrows(
              IllegalArgumentException.class,
              () -> generator.validate(spec.toBuilder().size(144, 64).build()));
      assertTrue(big.getMessage().contains("outside the sizes"), big.getMessage());
    }
  }

  @Test
  void fluxIsGuidanceDistilledConditionedOnT5AndPooledClipAndTakesNoNegativePrompt() {
    try (LatentDiffusion ldm =
            (LatentDiffusion) Generators.open(pkg("fixture-flux"), Device.cpu());
        NDManager scope = NDManager.newBaseManager()) {
      GenerationSpec spec = ldm.defaults("a red cube on a table", 1).toBuilder().steps(3).build();
      PromptBatch prompts = PromptBatch.of(ldm.text().tokenizers(), List.of(spec));
      TextConditioner.Conditioning text = ldm.text().encode(scope, prompts, false, 0);
      // T5's 512 tokens alone condition the transformer; CLIP gives only the pooled embedding
      assertEquals(512, text.hiddenStates().getShape().get(1));
      assertEquals(1, text.pooled().getShape().get(0));
      // the scale goes in as the `guidance` input, not as a second (unconditional) pass
      RgbImage low =
          ldm.generate(List.of(spec.toBuilder().guidanceScale(1f).build()), ProgressListener.NONE)
              .get(0)
              .frames()
              .get(0);
      GeneratedMedia high = ldm.generate(List.of(spec), ProgressListener.NONE).get(0);
      assertTrue(
          !java.util.Arrays.equals(low.rgb(), high.frames().get(0).rgb()),
          "the guidance input changes the image");
      assertEquals(36 / 6 * 3, high.blockEvaluations(), "one forward per step, no CFG batch");
      IllegalArgumentException negative =
          assertThrows(
              IllegalArgumentException.class,
              () -> ldm.validate(spec.toBuilder().negativePrompt("blurry").build()));
      assertTrue(
          negative.getMessage().startsWith("negative_prompt: fixture-flux runs no"),
          negative.getMessage());
      IllegalArgumentException skip =
          assertThrows(
              IllegalArgumentException.class,
              () -> ldm.validate(spec.toBuilder().clipSkip(1).build()));
      assertTrue(skip.getMessage().startsWith("clip_skip: "), skip.getMessage());
    }
  }

  @Test
  void aTextLayoutTheRuntimeCannotJoinIsRefusedByName(@TempDir Path dir) throws IOException {
    Path copy = copy("fixture-sd3", dir);
    Path manifest = copy.resolve(ModelPackage.MANIFEST_FILE);
    ObjectMapper json = new ObjectMapper();
    String original = Files.readString(manifest);
    ObjectNode both = (ObjectNode) json.readTree(original);
    ((ObjectNode) both.get("text")).put("pooledFrom", "text_encoder");
    json.writeValue(manifest.toFile(), both);
    ModelPackageException twice =
        assertThrows(
            ModelPackageException.class,
            () -> Generators.open(ModelPackage.open(copy), Device.cpu()));
    assertTrue(
        twice.getMessage().contains("either text.pooled_from or text.pooled_components"),
        twice.getMessage());
    ObjectNode first = (ObjectNode) json.readTree(original);
    ArrayNode encoders = (ArrayNode) first.get("text").get("encoders");
    encoders.insert(0, encoders.remove(2));
    json.writeValue(manifest.toFile(), first);
    ModelPackageException order =
        assertThrows(
            ModelPackageException.class,
            () -> Generators.open(ModelPackage.open(copy), Device.cpu()));
    assertTrue(order.getMessage().contains("listed last"), order.getMessage());
    ObjectNode narrow = (ObjectNode) json.readTree(original);
    ((ObjectNode) narrow.get("text")).put("contextDim", 32);
    json.writeValue(manifest.toFile(), narrow);
    try (LatentDiffusion ldm =
            (LatentDiffusion) Generators.open(ModelPackage.open(copy), Device.cpu());
        NDManager scope = NDManager.newBaseManager()) {
      GenerationSpec spec = ldm.defaults("a red cube", 1);
      PromptBatch prompts = PromptBatch.of(ldm.text().tokenizers(), List.of(spec));
      ModelPackageException wide =
          assertThrows(
              ModelPackageException.class, () -> ldm.text().encode(scope, prompts, true, 0));
      assertTrue(wide.getMessage().contains("more than text.context_dim 32"), wide.getMessage());
    }
  }

  @Test
  void aspectRatioPicksTheNearestBucket() {
    var sdxl = pkg("fixture-sdxl").manifest();
    assertEquals(size(128, 64), ImageSizes.bucket(sdxl, "16:9"));
    assertEquals(size(64, 64), ImageSizes.bucket(sdxl, "1:1"));
    assertEquals(size(64, 96), ImageSizes.bucket(sdxl, "2:3"));
    IllegalArgumentException none =
        assertThrows(
            IllegalArgumentException.class,
            () -> ImageSizes.bucket(pkg("fixture-sd15").manifest(), "16:9"));
    assertTrue(none.getMessage().startsWith("aspect_ratio: model 'fixture-sd15' states no"));
    assertThrows(IllegalArgumentException.class, () -> ImageSizes.bucket(sdxl, "wide"));
    assertThrows(IllegalArgumentException.class, () -> ImageSizes.bucket(sdxl, "0:1"));
  }

  private static Size size(int w, int h) {
    return Size.newBuilder().setWidth(w).setHeight(h).build();
  }

  @Test
  void aSchedulerFieldGenloomDoesNotImplementIsRefusedAtLoad(@TempDir Path dir) throws IOException {
    Path copy = copy("fixture-sd15", dir);
    Path config = copy.resolve("scheduler/scheduler_config.json");
    String json = Files.readString(config);
    Files.writeString(config, json.replaceFirst("\\{", "{\"thresholding\": true, "));
    ModelPackageException thresholding =
        assertThrows(
            ModelPackageException.class,
            () -> Generators.open(ModelPackage.open(copy), Device.cpu()));
    assertTrue(thresholding.getMessage().contains("thresholding"), thresholding.getMessage());
    Files.writeString(config, json.replaceFirst("\\{", "{\"timestep_spacng\": \"leading\", "));
    ModelPackageException typo =
        assertThrows(
            ModelPackageException.class,
            () -> Generators.open(ModelPackage.open(copy), Device.cpu()));
    assertTrue(typo.getMessage().contains("timestep_spacng"), typo.getMessage());
  }

  @Test
  void aGraphInputTheRuntimeCannotProvideIsRefusedAtLoad(@TempDir Path dir) throws IOException {
    Path copy = copy("fixture-sdxl", dir);
    Path manifest = copy.resolve(ModelPackage.MANIFEST_FILE);
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = (ObjectNode) json.readTree(manifest.toFile());
    ((ArrayNode) root.with("denoiser").get("inputs")).insert(0, "aesthetic_score");
    json.writeValue(manifest.toFile(), root);
    ModelPackageException e =
        assertThrows(
            ModelPackageException.class,
            () -> Generators.open(ModelPackage.open(copy), Device.cpu()));
    assertTrue(e.getMessage().contains("'aesthetic_score'"), e.getMessage());
  }

  private static Path copy(String name, Path dir) throws IOException {
    Path source = MODELS.resolve(name);
    Path target = dir.resolve(name);
    try (Stream<Path> files = Files.walk(source)) {
      for (Path p : files.toList()) {
        Path t = target.resolve(source.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t);
        }
      }
    }
    return target;
  }
}
