package dev.genloom.generators;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.genloom.generators.graph.GraphExecutor;
import dev.genloom.generators.sampling.Sampler;
import dev.genloom.generators.text.PromptTokenizer;
import dev.genloom.proto.v1.CfgSchedule;
import dev.genloom.proto.v1.GoldenFile;
import dev.genloom.proto.v1.ModelKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Replays a latent-diffusion package's sampling goldens through the Java runtime: the whole
 * denoising loop (tokenizers, text encoders, sampler, guidance, block graph, VAE decoder) with the
 * random draws the reference run recorded, compared with the reference's final latents and pixels.
 *
 * <p>Two recordings exist. An exporter of a diffusers pipeline records, per sampler and size, a run
 * of diffusers' own schedulers and models in the loop its pipelines run ({@code
 * golden/sampling_<sampler>_<W>x<H>.npz} with a {@code .json} sidecar holding the prompts and
 * settings); the Java tokenizers must also reproduce its token ids. Genloom's own tiny packages
 * record one run per sampler from their training code ({@code golden/sampling_<sampler>.npz}).
 */
public final class SamplingCheck {
  private SamplingCheck() {}

  /**
   * The outcome of one recording.
   *
   * @param subject the golden's subject, e.g. "sampling/ddim/64x64"
   * @param latentError max abs difference of the final latents
   * @param pixelError max abs difference of the decoded pixels
   * @param timestepError max abs difference of the sampler's timesteps (0 when not recorded)
   * @param tokenIdsMatch whether the Java tokenizers gave the recorded ids and truncation counts
   *     (true when the recording holds no prompts)
   */
  public record Result(
      String subject,
      double latentError,
      double pixelError,
      double timestepError,
      boolean tokenIdsMatch,
      double relativeTolerance,
      double latentScale,
      double pixelScale) {
    /**
     * Errors past a step accumulate over the loop, so a package with half-precision weights is
     * allowed this many times its components' relative tolerance on the final latents and pixels.
     */
    public static final double HALF_PRECISION_LOOP_FACTOR = 3.0;

    /** The latent error allowed: {@code absolute}, or for half precision the scaled tolerance. */
    public double latentAllowed(double absolute) {
      return Math.max(absolute, HALF_PRECISION_LOOP_FACTOR * relativeTolerance * latentScale);
    }

    /** The pixel error allowed: {@code absolute}, or for half precision the scaled tolerance. */
    public double pixelAllowed(double absolute) {
      return Math.max(absolute, HALF_PRECISION_LOOP_FACTOR * relativeTolerance * pixelScale);
    }

    public boolean passes(double latentTolerance, double pixelTolerance) {
      return latentError <= latentAllowed(latentTolerance)
          && pixelError <= pixelAllowed(pixelTolerance)
          && tokenIdsMatch;
    }
  }

  /** Every sampling golden of {@code pkg}, replayed; an empty list for other kinds. */
  public static List<Result> check(ModelPackage pkg, Device device) {
    List<Result> results = new ArrayList<>();
    boolean video = pkg.kind() == ModelKind.MODEL_KIND_LATENT_VIDEO;
    if (pkg.kind() != ModelKind.MODEL_KIND_LATENT_DIFFUSION && !video) {
      return results;
    }
    List<GoldenFile> goldens =
        pkg.manifest().getGoldensList().stream()
            .filter(g -> g.getSubject().startsWith("sampling/"))
            .toList();
    if (goldens.isEmpty()) {
      return results;
    }
    if (video) {
      try (LatentVideoDiffusion lvd = (LatentVideoDiffusion) Generators.open(pkg, device)) {
        for (GoldenFile golden : goldens) {
          results.add(replayVideo(lvd, golden));
        }
      }
      return results;
    }
    try (LatentDiffusion ldm = (LatentDiffusion) Generators.open(pkg, device)) {
      for (GoldenFile golden : goldens) {
        results.add(replay(ldm, golden));
      }
    }
    return results;
  }

  static Result replay(LatentDiffusion ldm, GoldenFile golden) {
    ModelPackage pkg = ldm.pkg();
    Path npz = pkg.resolve(golden.getFile());
    Path sidecar =
        npz.resolveSibling(npz.getFileName().toString().replaceFirst("\\.npz$", ".json"));
    try (NDManager scope = NDManager.newBaseManager()) {
      Map<String, NDArray> arrays = GoldenCheck.readNpz(scope, npz);
      return Files.isRegularFile(sidecar)
          ? replayDiffusers(ldm, golden.getSubject(), arrays, readJson(sidecar), scope)
          : replayOwn(ldm, golden.getSubject(), arrays, scope);
    }
  }

  /** A diffusers recording: prompts and settings in the sidecar, ids per tokenizer. */
  private static Result replayDiffusers(
      LatentDiffusion ldm,
      String subject,
      Map<String, NDArray> arrays,
      JsonNode settings,
      NDManager scope) {
    List<String> prompts = strings(settings, "prompts");
    List<String> negatives = strings(settings, "negative_prompts");
    GenerationSpec base =
        ldm.defaults("", 0).toBuilder()
            .sampler(settings.get("sampler").asText())
            .steps(settings.get("steps").asInt())
            .guidanceScale((float) settings.get("guidance_scale").asDouble())
            .guidanceRescale((float) settings.path("guidance_rescale").asDouble(0))
            .eta((float) settings.path("eta").asDouble(0))
            .clipSkip(settings.path("clip_skip").asInt(0))
            .size(settings.get("width").asInt(), settings.get("height").asInt())
            .build();
    List<GenerationSpec> specs = new ArrayList<>();
    for (int b = 0; b < prompts.size(); b++) {
      specs.add(base.toBuilder().prompt(prompts.get(b)).negativePrompt(negatives.get(b)).build());
    }
    List<PromptTokenizer> tokenizers = ldm.text().tokenizers();
    PromptBatch tokenized = PromptBatch.of(tokenizers, specs);
    RecordedIds ids = RecordedIds.read(arrays, tokenizers.size(), tokenized, subject);
    List<long[][]> cond = ids.cond();
    List<long[][]> uncond = ids.uncond();
    boolean idsMatch = ids.match();
    JsonNode truncated = settings.get("truncated_tokens");
    if (truncated != null) {
      for (int b = 0; b < prompts.size(); b++) {
        idsMatch &= truncated.get(b).asInt() == tokenized.truncated(b);
      }
    }
    PromptBatch prompt =
        tokenized
            .withRows(cond, uncond)
            .withNoise(noise(arrays, prompts.size(), base.steps(), subject));
    return run(ldm, subject, base, prompt, arrays, idsMatch, scope);
  }

  /**
   * A recording of a CogVideoX pipeline run: the sidecar's prompts and settings, per item the image
   * posterior's draw (image-to-video), the initial latent and every scheduler draw in order.
   */
  static Result replayVideo(LatentVideoDiffusion lvd, GoldenFile golden) {
    ModelPackage pkg = lvd.pkg();
    Path npz = pkg.resolve(golden.getFile());
    Path sidecar =
        npz.resolveSibling(npz.getFileName().toString().replaceFirst("\\.npz$", ".json"));
    String subject = golden.getSubject();
    try (NDManager scope = NDManager.newBaseManager()) {
      Map<String, NDArray> arrays = GoldenCheck.readNpz(scope, npz);
      JsonNode settings = readJson(sidecar);
      List<String> prompts = strings(settings, "prompts");
      List<String> negatives = strings(settings, "negative_prompts");
      GenerationSpec.Builder builder =
          lvd.defaults("", 0).toBuilder()
              .sampler(settings.get("sampler").asText())
              .steps(settings.get("steps").asInt())
              .guidanceScale((float) settings.get("guidance_scale").asDouble())
              .numFrames(settings.get("num_frames").asInt())
              .size(settings.get("width").asInt(), settings.get("height").asInt());
      if (settings.path("use_dynamic_cfg").asBoolean(false)) {
        builder.cfgSchedule(
            CfgSchedule.newBuilder().setShape(CfgSchedule.Shape.SHAPE_COGVIDEOX_DYNAMIC).build());
      }
      GenerationSpec base = builder.build();
      List<GenerationSpec> specs = new ArrayList<>();
      for (int b = 0; b < prompts.size(); b++) {
        specs.add(base.toBuilder().prompt(prompts.get(b)).negativePrompt(negatives.get(b)).build());
      }
      List<PromptTokenizer> tokenizers = lvd.text().tokenizers();
      PromptBatch tokenized = PromptBatch.of(tokenizers, specs);
      RecordedIds ids = RecordedIds.read(arrays, tokenizers.size(), tokenized, subject);
      boolean idsMatch = ids.match();
      NDArray image = arrays.get("image");
      List<NoiseSource> noise = new ArrayList<>();
      NDArray imageNoise = image == null ? null : require(arrays, "image_noise", subject);
      NDArray init = require(arrays, "init_noise", subject);
      NDArray stepNoise = arrays.get("step_noise");
      for (int b = 0; b < prompts.size(); b++) {
        String item = b + ":" + (b + 1);
        List<NDArray> draws = new ArrayList<>();
        if (imageNoise != null) {
          draws.add(imageNoise.get(item));
        }
        draws.add(init.get(item));
        if (stepNoise != null) {
          for (int k = 0; k < stepNoise.getShape().get(0); k++) {
            draws.add(stepNoise.get(k).get(item));
          }
        }
        noise.add(new ReplayNoise(draws, List.of()));
      }
      PromptBatch batch = tokenized.withRows(ids.cond(), ids.uncond()).withNoise(noise);
      LatentVideoDiffusion.Trajectory run =
          lvd.sample(
              scope, batch, image, base, ProgressListener.NONE, GraphExecutor.BlockObserver.NONE);
      return compare(
          subject,
          arrays,
          run.latents(),
          lvd.decode(run.latents()),
          timestepError(arrays, lvd.sampler(base), subject),
          idsMatch,
          lvd.pkg());
    }
  }

  /** A recording of Genloom's own training code: one tokenizer, settings as scalar arrays. */
  private static Result replayOwn(
      LatentDiffusion ldm, String subject, Map<String, NDArray> arrays, NDManager scope) {
    int steps = (int) require(arrays, "steps", subject).toType(DataType.INT64, false).getLong();
    GenerationSpec spec =
        ldm.defaults("", 0).toBuilder()
            .sampler(subject.substring("sampling/".length()))
            .steps(steps)
            .guidanceScale(require(arrays, "guidance_scale", subject).getFloat())
            .eta(require(arrays, "eta", subject).getFloat())
            .build();
    long[][] cond = rows(require(arrays, "input_ids", subject));
    long[][] uncond = rows(require(arrays, "uncond_ids", subject));
    PromptBatch prompts =
        PromptBatch.ofRows(cond, uncond, noise(arrays, cond.length, steps, subject));
    return run(ldm, subject, spec, prompts, arrays, true, scope);
  }

  private static Result run(
      LatentDiffusion ldm,
      String subject,
      GenerationSpec spec,
      PromptBatch prompts,
      Map<String, NDArray> arrays,
      boolean idsMatch,
      NDManager scope) {
    LatentDiffusion.Trajectory run =
        ldm.sample(
            scope, prompts, null, spec, ProgressListener.NONE, GraphExecutor.BlockObserver.NONE);
    return compare(
        subject,
        arrays,
        run.latents(),
        ldm.decode(run.latents()),
        timestepError(arrays, ldm.sampler(spec), subject),
        idsMatch,
        ldm.pkg());
  }

  /** The Java run's final latents and decoded pixels against the recording's. */
  private static Result compare(
      String subject,
      Map<String, NDArray> arrays,
      NDArray runLatents,
      NDArray runPixels,
      double timestepError,
      boolean idsMatch,
      ModelPackage pkg) {
    NDArray latents = require(arrays, "latent_final", subject);
    NDArray pixels = require(arrays, "pixels", subject);
    return new Result(
        subject,
        maxAbs(runLatents, latents, subject),
        maxAbs(runPixels, pixels, subject),
        timestepError,
        idsMatch,
        Precisions.loosest(pkg),
        maxAbs(latents),
        maxAbs(pixels));
  }

  /** How far the Java sampler's timesteps are from the recorded ones (0 when none are recorded). */
  private static double timestepError(
      Map<String, NDArray> arrays, Sampler sampler, String subject) {
    NDArray timesteps = arrays.get("timesteps");
    if (timesteps == null) {
      return 0;
    }
    float[] recorded = timesteps.toType(DataType.FLOAT32, false).toFloatArray();
    if (recorded.length != sampler.steps()) {
      throw new ModelPackageException(
          subject
              + ": the recording has "
              + recorded.length
              + " timesteps, the Java sampler "
              + sampler.steps());
    }
    double error = 0;
    for (int i = 0; i < recorded.length; i++) {
      error = Math.max(error, Math.abs(recorded[i] - sampler.modelTimestep(i)));
    }
    return error;
  }

  /** Per item: the initial draw, then one draw per step where the recording has step noise. */
  private static List<NoiseSource> noise(
      Map<String, NDArray> arrays, int items, int steps, String subject) {
    NDArray init = require(arrays, "init_noise", subject);
    NDArray stepNoise = arrays.get("step_noise");
    List<NoiseSource> noise = new ArrayList<>();
    for (int b = 0; b < items; b++) {
      String item = b + ":" + (b + 1);
      List<NDArray> draws = new ArrayList<>();
      draws.add(init.get(item));
      if (stepNoise != null) {
        for (int i = 0; i < steps; i++) {
          draws.add(stepNoise.get(i).get(item));
        }
      }
      noise.add(new ReplayNoise(draws, List.of()));
    }
    return noise;
  }

  /**
   * The token ids a recording holds per tokenizer ({@code input_ids_<k>}, {@code uncond_ids_<k>})
   * and whether the Java tokenizers gave the same.
   */
  private record RecordedIds(List<long[][]> cond, List<long[][]> uncond, boolean match) {
    static RecordedIds read(
        Map<String, NDArray> arrays, int tokenizers, PromptBatch tokenized, String subject) {
      List<long[][]> cond = new ArrayList<>();
      List<long[][]> uncond = new ArrayList<>();
      boolean match = true;
      for (int k = 0; k < tokenizers; k++) {
        long[][] c = rows(require(arrays, "input_ids_" + k, subject));
        long[][] u = rows(require(arrays, "uncond_ids_" + k, subject));
        match &=
            Arrays.deepEquals(c, tokenized.cond(k)) && Arrays.deepEquals(u, tokenized.uncond(k));
        cond.add(c);
        uncond.add(u);
      }
      return new RecordedIds(cond, uncond, match);
    }
  }

  private static double maxAbs(NDArray array) {
    return array.toType(DataType.FLOAT32, false).abs().max().getFloat();
  }

  private static double maxAbs(NDArray actual, NDArray expected, String subject) {
    if (!actual.getShape().equals(expected.getShape())) {
      throw new ModelPackageException(
          subject
              + ": the Java run gave shape "
              + actual.getShape()
              + " but the recording has "
              + expected.getShape());
    }
    return actual
        .toType(DataType.FLOAT32, false)
        .sub(expected.toType(DataType.FLOAT32, false))
        .abs()
        .max()
        .getFloat();
  }

  private static long[][] rows(NDArray ids) {
    int count = (int) ids.getShape().get(0);
    int length = (int) ids.getShape().get(1);
    long[] flat = ids.toType(DataType.INT64, false).toLongArray();
    long[][] out = new long[count][length];
    for (int r = 0; r < count; r++) {
      System.arraycopy(flat, r * length, out[r], 0, length);
    }
    return out;
  }

  private static NDArray require(Map<String, NDArray> arrays, String name, String subject) {
    NDArray array = arrays.get(name);
    if (array == null) {
      throw new ModelPackageException(
          subject + ": the recording has no array '" + name + "' (it has " + arrays.keySet() + ")");
    }
    return array;
  }

  private static JsonNode readJson(Path file) {
    try {
      return new ObjectMapper().readTree(file.toFile());
    } catch (IOException e) {
      throw new ModelPackageException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  private static List<String> strings(JsonNode settings, String field) {
    List<String> out = new ArrayList<>();
    settings.path(field).forEach(v -> out.add(v.asText()));
    return out;
  }
}
