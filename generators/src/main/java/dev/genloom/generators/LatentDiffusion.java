package dev.genloom.generators;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.genloom.generators.graph.CachePolicy;
import dev.genloom.generators.graph.GraphExecutor;
import dev.genloom.generators.sampling.Sampler;
import dev.genloom.generators.sampling.SamplerKind;
import dev.genloom.generators.sampling.Samplers;
import dev.genloom.generators.sampling.SchedulerConfig;
import dev.genloom.generators.text.WordLevelTokenizer;
import dev.genloom.proto.v1.LatentSpec;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.SamplerDefaults;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Emu / Stable Diffusion-style latent diffusion: a text encoder, an epsilon-predicting UNet run as
 * a block graph, DDIM or DPM-Solver++(2M), classifier-free guidance as one batched forward
 * (unconditional rows first), and a VAE decoder. With a reference image it runs SDEdit
 * image-to-image: the encoded reference is noised to the step that {@code strength} selects.
 */
public final class LatentDiffusion implements Generator, Calibratable {
  private final ModelPackage pkg;
  private final Device device;
  private final LoadedComponents components;
  private final WordLevelTokenizer tokenizer;
  private final DenoiserGraph denoiser;
  private final SchedulerConfig schedulerConfig;
  private final LatentSpec latent;

  LatentDiffusion(ModelPackage pkg, Device device) {
    this.pkg = pkg;
    this.device = device;
    ModelManifest manifest = pkg.manifest();
    this.tokenizer =
        WordLevelTokenizer.load(
            pkg.resolve(manifest.getTokenizer().getFile()), manifest.getTokenizer());
    this.schedulerConfig =
        SchedulerConfig.fromNoiseSchedule(
            manifest.getSchedule(), manifest.getDenoiser().getPrediction());
    this.latent = manifest.getLatent();
    this.components = LoadedComponents.load(pkg, device);
    try {
      this.denoiser = new DenoiserGraph(manifest.getDenoiser(), components);
      components.get("text_encoder");
      components.get("vae_decoder");
    } catch (RuntimeException e) {
      components.close();
      throw e;
    }
  }

  @Override
  public ModelPackage pkg() {
    return pkg;
  }

  WordLevelTokenizer tokenizer() {
    return tokenizer;
  }

  @Override
  public GenerationSpec defaults(String prompt, long seed) {
    SamplerDefaults d = pkg.manifest().getDefaults();
    return new GenerationSpec(
        prompt,
        "",
        seed,
        d.getSteps(),
        d.getGuidanceScale(),
        d.getSampler(),
        d.getEta(),
        CacheSpec.NONE,
        Optional.empty(),
        d.getStrength() > 0 ? d.getStrength() : 0.6f,
        1,
        1f,
        0,
        1f,
        null);
  }

  @Override
  public void validate(GenerationSpec spec) {
    if (!spec.sampler().equals("ddim") && !spec.sampler().equals("dpmpp2m")) {
      throw new IllegalArgumentException(
          "sampler: " + pkg.name() + " supports ddim and dpmpp2m, got '" + spec.sampler() + "'");
    }
    tokenizer.encode(spec.prompt());
    tokenizer.encode(spec.negativePrompt());
    if (spec.reference().isPresent() && !components.has("vae_encoder")) {
      throw new IllegalArgumentException(
          "reference_images: " + pkg.name() + " has no encoder for image-to-image");
    }
    spec.reference()
        .ifPresent(
            image -> {
              int w = latent.getWidth() * latent.getDownsample();
              int h = latent.getHeight() * latent.getDownsample();
              if (image.width() != w || image.height() != h) {
                throw new IllegalArgumentException(
                    "reference_images: expected a "
                        + w
                        + "x"
                        + h
                        + " image, got "
                        + image.width()
                        + "x"
                        + image.height());
              }
            });
    sampler(spec);
    CachePolicies.resolve(pkg.manifest(), spec.cache(), spec.sampler(), spec.steps());
  }

  Sampler sampler(GenerationSpec spec) {
    return Samplers.create(
        SamplerKind.parse(spec.sampler()), schedulerConfig, spec.steps(), spec.eta());
  }

  @Override
  public List<GeneratedMedia> generate(List<GenerationSpec> batch, ProgressListener progress) {
    Batches.checkCompatible(batch);
    batch.forEach(this::validate);
    long start = System.nanoTime();
    try (NDManager scope = NDManager.newBaseManager(device)) {
      PromptBatch prompts = PromptBatch.of(tokenizer, batch);
      List<NDArray> references = new ArrayList<>();
      batch.forEach(spec -> spec.reference().ifPresent(r -> references.add(r.toSymmetric(scope))));
      NDArray reference = references.isEmpty() ? null : NDArrays.stack(new NDList(references));
      Trajectory result =
          sample(
              scope,
              prompts.cond(),
              prompts.uncond(),
              reference,
              prompts.noise(),
              batch.get(0),
              progress,
              GraphExecutor.BlockObserver.NONE);
      NDArray pixels = decode(result.latents());
      long millis = (System.nanoTime() - start) / 1_000_000;
      List<GeneratedMedia> media = new ArrayList<>();
      for (int b = 0; b < batch.size(); b++) {
        media.add(
            new GeneratedMedia(
                List.of(RgbImage.fromSymmetric(pixels.get(b))),
                0,
                result.evaluations(),
                result.skips(),
                millis,
                batch.size()));
      }
      return media;
    }
  }

  /** Latents and block counts of one batched trajectory. Block counts are per item. */
  record Trajectory(NDArray latents, long evaluations, long skips) {}

  /**
   * The denoising loop. {@code noise} supplies, per item, the initial latent noise and then any
   * per-step noise in step order.
   */
  Trajectory sample(
      NDManager scope,
      long[][] condIds,
      long[][] uncondIds,
      NDArray referencePixels,
      List<NoiseSource> noise,
      GenerationSpec spec,
      ProgressListener progress,
      GraphExecutor.BlockObserver observer) {
    int batch = condIds.length;
    Shape itemShape = new Shape(1, latent.getChannels(), latent.getHeight(), latent.getWidth());
    boolean guided = spec.guidanceScale() != 1f;
    NDArray context =
        PromptBatch.encode(
            components.get("text_encoder"),
            scope,
            guided ? PromptBatch.guidedRows(condIds, uncondIds) : condIds);
    Sampler sampler = sampler(spec);
    CachePolicy policy =
        CachePolicies.resolve(pkg.manifest(), spec.cache(), spec.sampler(), spec.steps());
    GraphExecutor executor = denoiser.executor(policy, observer);

    NDArray x = PromptBatch.gaussians(scope, noise, itemShape);
    int first = 0;
    if (referencePixels != null) {
      int initSteps = Math.min((int) (spec.steps() * spec.strength()), spec.steps());
      first = Math.max(spec.steps() - initSteps, 0);
      if (first >= spec.steps()) {
        throw new IllegalArgumentException("strength: too small to take any step");
      }
      NDArray clean = encodeImage(referencePixels);
      x = sampler.addNoise(clean, x, first);
    }
    int total = spec.steps() - first;
    Supplier<NDArray> stepNoise = () -> PromptBatch.gaussians(scope, noise, itemShape);
    for (int i = first; i < spec.steps(); i++) {
      if (progress.cancelled()) {
        throw new GenerationCancelledException(i - first, total);
      }
      NDArray input = guided ? x.concat(x, 0) : x;
      NDArray timestep = scope.full(new Shape(input.getShape().get(0)), sampler.modelTimestep(i));
      Map<String, NDArray> inputs = new HashMap<>();
      inputs.put("sample", input);
      inputs.put("timestep", timestep);
      inputs.put("encoder_hidden_states", context);
      NDArray out = executor.run(i - first, total, inputs);
      NDArray eps = out;
      if (guided) {
        NDArray uncond = out.get("0:" + batch);
        NDArray cond = out.get(batch + ":");
        eps = uncond.add(cond.sub(uncond).mul(spec.guidanceScale()));
      }
      x = sampler.step(i, eps, x, stepNoise);
      NDArray current = x;
      progress.onStep(
          i - first + 1, total, () -> RgbImage.fromSymmetric(decode(current.get("0:1")).get(0)));
    }
    return new Trajectory(x, executor.evaluations(), executor.skips());
  }

  NDArray encodeImage(NDArray pixels) {
    return components
        .get("vae_encoder")
        .forward(new NDList(pixels))
        .get(0)
        .mul(latent.getScaleFactor());
  }

  NDArray decode(NDArray latents) {
    return components
        .get("vae_decoder")
        .forward(new NDList(latents.div(latent.getScaleFactor())))
        .get(0);
  }

  @Override
  public void observeUncached(List<GenerationSpec> batch, GraphExecutor.BlockObserver observer) {
    Batches.checkCompatible(batch);
    batch.forEach(this::validate);
    try (NDManager scope = NDManager.newBaseManager(device)) {
      PromptBatch prompts = PromptBatch.of(tokenizer, batch);
      GenerationSpec uncached = batch.get(0).toBuilder().cache(CacheSpec.NONE).build();
      sample(
          scope,
          prompts.cond(),
          prompts.uncond(),
          null,
          prompts.noise(),
          uncached,
          ProgressListener.NONE,
          observer);
    }
  }

  @Override
  public void close() {
    components.close();
  }
}
