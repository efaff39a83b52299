package dev.genloom.generators;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.genloom.generators.graph.GraphExecutor;
import dev.genloom.generators.graph.LaneExecutor;
import dev.genloom.generators.sampling.FlowMatchEuler;
import dev.genloom.generators.text.PromptTokenizer;
import dev.genloom.proto.v1.LatentSpec;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.SamplerDefaults;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Movie Gen-style text-to-video and image-to-video: a flow-matching diffusion transformer over
 * per-frame latents, integrated with Euler steps on the linear-quadratic schedule, with
 * classifier-free guidance as one batched forward. A reference image becomes the first frame's
 * conditioning latent ({@code cond_latent}, {@code cond_mask}).
 */
public final class DiTVideo implements Generator, Calibratable {
  private final ModelPackage pkg;
  private final Device device;
  private final LoadedComponents components;
  private final PromptTokenizer tokenizer;
  private final DenoiserGraph denoiser;
  private final LatentSpec latent;
  private final float frameNoiseCorrelation;

  DiTVideo(ModelPackage pkg, Device device) {
    this.pkg = pkg;
    this.device = device;
    ModelManifest manifest = pkg.manifest();
    this.frameNoiseCorrelation = manifest.getDefaults().getFrameNoiseCorrelation();
    if (!(frameNoiseCorrelation >= 0f && frameNoiseCorrelation < 1f)) {
      throw new ModelPackageException(
          pkg.name()
              + ": defaults.frameNoiseCorrelation must be in [0, 1), got "
              + frameNoiseCorrelation);
    }
    this.tokenizer =
        PromptTokenizer.load(
            pkg.resolve(manifest.getTokenizer().getFile()), manifest.getTokenizer());
    this.latent = manifest.getLatent();
    this.components = LoadedComponents.load(pkg, device);
    try {
      this.denoiser = new DenoiserGraph(manifest.getDenoiser(), components);
      components.get("text_encoder");
      components.get("vae_decoder");
    } catch (RuntimeException e) {
      tokenizer.close();
      components.close();
      throw e;
    }
  }

  @Override
  public ModelPackage pkg() {
    return pkg;
  }

  @Override
  public GenerationSpec defaults(String prompt, long seed) {
    SamplerDefaults d = pkg.manifest().getDefaults();
    return GenerationSpec.fromDefaults(d, prompt, seed, "euler").toBuilder()
        .eta(0f)
        .strength(1f)
        .numFrames(d.getNumFrames() > 0 ? d.getNumFrames() : latent.getFrames())
        .temperature(1f)
        .topK(0)
        .topP(1f)
        .cfgSchedule(null)
        .build();
  }

  int fps() {
    int fps = pkg.manifest().getDefaults().getFps();
    return fps > 0 ? fps : 8;
  }

  @Override
  public void validate(GenerationSpec spec) {
    if (!spec.sampler().equals("euler")) {
      throw new IllegalArgumentException(
          "sampler: "
              + pkg.name()
              + " is a flow-matching model and uses euler, got '"
              + spec.sampler()
              + "'");
    }
    if (spec.steps() < 2) {
      throw new IllegalArgumentException("steps: flow matching needs at least 2 steps");
    }
    List<Integer> frames = pkg.manifest().getSupportedFrameCountsList();
    if (!frames.isEmpty() && !frames.contains(spec.numFrames())) {
      throw new IllegalArgumentException(
          "num_frames: " + pkg.name() + " supports " + frames + ", got " + spec.numFrames());
    }
    PromptBatch.of(tokenizer, List.of(spec));
    if (spec.width() != 0 || spec.height() != 0) {
      ImageSizes.check(pkg.manifest(), spec.width(), spec.height());
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
                        + " first frame, got "
                        + image.width()
                        + "x"
                        + image.height());
              }
            });
    if (spec.cache().kind() != CacheSpec.Kind.NONE) {
      CachePolicies.resolve(pkg.manifest(), spec.cache(), "euler", spec.steps());
    }
  }

  @Override
  public String cacheSampler(GenerationSpec spec) {
    return "euler";
  }

  FlowMatchEuler sampler(GenerationSpec spec) {
    double scale = pkg.manifest().getDenoiser().getTimestepScale();
    double timestepScale = scale == 0 ? 1000 : scale;
    String schedule = pkg.manifest().getDefaults().getSigmaSchedule();
    return schedule.equals("linear")
        ? FlowMatchEuler.linear(spec.steps(), timestepScale)
        : FlowMatchEuler.linearQuadratic(spec.steps(), timestepScale);
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
      NDArray firstFrames = references.isEmpty() ? null : NDArrays.stack(new NDList(references));
      Trajectory result =
          sample(
              scope,
              prompts.cond(),
              prompts.uncond(),
              firstFrames,
              prompts.noise(),
              batch.get(0),
              batch.stream().map(GenerationSpec::cache).toList(),
              progress,
              GraphExecutor.BlockObserver.NONE);
      NDArray pixels = decodeVideo(result.latents());
      long millis = (System.nanoTime() - start) / 1_000_000;
      List<GeneratedMedia> media = new ArrayList<>();
      int frames = batch.get(0).numFrames();
      for (int b = 0; b < batch.size(); b++) {
        List<RgbImage> images = new ArrayList<>();
        for (int f = 0; f < frames; f++) {
          images.add(RgbImage.fromSymmetric(pixels.get(b).get(f)));
        }
        media.add(
            new GeneratedMedia(
                images,
                fps(),
                result.evaluations()[b],
                result.skips()[b],
                millis,
                batch.size(),
                prompts.truncated(b)));
      }
      return media;
    }
  }

  record Trajectory(NDArray latents, long[] evaluations, long[] skips) {}

  /** Latent video [B, C, F, H, W]. {@code noise} gives each item's initial noise. */
  Trajectory sample(
      NDManager scope,
      long[][] condIds,
      long[][] uncondIds,
      NDArray firstFrames,
      List<NoiseSource> noise,
      GenerationSpec spec,
      List<CacheSpec> caches,
      ProgressListener progress,
      GraphExecutor.BlockObserver observer) {
    int batch = condIds.length;
    int frames = spec.numFrames();
    Shape itemShape =
        new Shape(1, latent.getChannels(), frames, latent.getHeight(), latent.getWidth());
    boolean guided = spec.guidanceScale() != 1f;
    NDArray context =
        PromptBatch.encode(
            components.get("text_encoder"),
            scope,
            guided ? PromptBatch.guidedRows(condIds, uncondIds) : condIds);
    NDArray condLatent =
        scope.zeros(
            new Shape(batch, latent.getChannels(), frames, latent.getHeight(), latent.getWidth()));
    NDArray condMask =
        scope.zeros(new Shape(batch, 1, frames, latent.getHeight(), latent.getWidth()));
    if (firstFrames != null) {
      NDArray encoded = encodeFrames(firstFrames); // [B, C, H, W]
      condLatent.set(new ai.djl.ndarray.index.NDIndex(":, :, 0"), encoded);
      condMask.set(new ai.djl.ndarray.index.NDIndex(":, :, 0"), 1f);
    }
    if (guided) {
      condLatent = condLatent.concat(condLatent, 0);
      condMask = condMask.concat(condMask, 0);
    }
    FlowMatchEuler sampler = sampler(spec);
    LaneExecutor executor =
        denoiser.executor(
            CachePolicies.rows(pkg.manifest(), caches, "euler", spec.steps(), guided), observer);
    NDArray x = initialNoise(scope, noise, itemShape);
    int steps = sampler.steps();
    for (int i = 0; i < steps; i++) {
      if (progress.cancelled()) {
        throw new GenerationCancelledException(i, steps);
      }
      NDArray input = guided ? x.concat(x, 0) : x;
      Map<String, NDArray> inputs = new HashMap<>();
      inputs.put("sample", input);
      inputs.put(
          "timestep", scope.full(new Shape(input.getShape().get(0)), sampler.modelTimestep(i)));
      inputs.put("encoder_hidden_states", context);
      inputs.put("cond_latent", condLatent);
      inputs.put("cond_mask", condMask);
      NDArray v = executor.run(i, steps, inputs);
      if (guided) {
        NDArray vu = v.get("0:" + batch);
        NDArray vc = v.get(batch + ":");
        v = vu.add(vc.sub(vu).mul(spec.guidanceScale()));
      }
      x = sampler.step(i, v, x, () -> null);
      progress.onStep(i + 1, steps, () -> null);
    }
    return new Trajectory(x, executor.itemEvaluations(batch), executor.itemSkips(batch));
  }

  /**
   * Initial noise [B, C, F, H, W]. With a frame-noise correlation rho > 0 each item draws its
   * per-frame noise and then one frame-shared draw [1, C, 1, H, W] from its own stream, mixed as
   * {@code sqrt(rho) shared + sqrt(1 - rho) per-frame}: the noise prior the model was trained on.
   */
  NDArray initialNoise(NDManager scope, List<NoiseSource> noise, Shape itemShape) {
    NDArray perFrame = PromptBatch.gaussians(scope, noise, itemShape);
    if (frameNoiseCorrelation == 0f) {
      return perFrame;
    }
    Shape sharedShape =
        new Shape(itemShape.get(0), itemShape.get(1), 1, itemShape.get(3), itemShape.get(4));
    NDArray shared = PromptBatch.gaussians(scope, noise, sharedShape);
    return perFrame
        .mul((float) Math.sqrt(1.0 - frameNoiseCorrelation))
        .add(shared.mul((float) Math.sqrt(frameNoiseCorrelation)));
  }

  /** Pixels [B, 3, H, W] to scaled latents [B, C, h, w]. */
  NDArray encodeFrames(NDArray pixels) {
    return components
        .get("vae_encoder")
        .forward(new NDList(pixels))
        .get(0)
        .mul(latent.getScaleFactor());
  }

  /** Latent video [B, C, F, h, w] to pixels [B, F, 3, H, W] in [-1, 1], decoded frame by frame. */
  NDArray decodeVideo(NDArray latents) {
    Shape s = latents.getShape();
    long b = s.get(0);
    long c = s.get(1);
    long f = s.get(2);
    NDArray perFrame =
        latents
            .transpose(0, 2, 1, 3, 4)
            .reshape(b * f, c, s.get(3), s.get(4))
            .div(latent.getScaleFactor());
    NDArray pixels = components.get("vae_decoder").forward(new NDList(perFrame)).get(0);
    Shape p = pixels.getShape();
    return pixels.reshape(b, f, p.get(1), p.get(2), p.get(3));
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
          java.util.Collections.nCopies(batch.size(), CacheSpec.NONE),
          ProgressListener.NONE,
          observer);
    }
  }

  @Override
  public void preload() {
    components.loadAll();
  }

  @Override
  public long residentBytes() {
    return components.residentBytes();
  }

  @Override
  public void close() {
    tokenizer.close();
    components.close();
  }
}
