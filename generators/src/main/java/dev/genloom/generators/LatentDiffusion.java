package dev.genloom.generators;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.genloom.generators.graph.GraphExecutor;
import dev.genloom.generators.graph.LaneExecutor;
import dev.genloom.generators.sampling.Guidance;
import dev.genloom.generators.sampling.Sampler;
import dev.genloom.generators.sampling.SamplerKind;
import dev.genloom.generators.sampling.Samplers;
import dev.genloom.generators.sampling.SchedulerConfig;
import dev.genloom.proto.v1.LatentSpec;
import dev.genloom.proto.v1.ModelManifest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Emu / Stable Diffusion-style latent diffusion: one or more text encoders, a UNet or a transformer
 * (SD3's MMDiT, Flux) run as a block graph, a sampler built from the package's scheduler config
 * with diffusers' semantics, classifier-free guidance as one batched forward (unconditional rows
 * first, optionally guidance-rescaled), and a VAE decoder. The size comes from the request; the
 * latent is the size divided by the VAE's factor. With a reference image it runs SDEdit
 * image-to-image: the encoded reference is noised to the step that {@code strength} selects.
 *
 * <p>The denoiser's graph inputs are the ones its manifest declares, from the set this class can
 * produce: {@code sample}, {@code timestep}, {@code encoder_hidden_states}, {@code text_embeds}
 * (the pooled text embedding), {@code time_ids} (SDXL's original size, crop and target size) and
 * {@code guidance} (the scale, for a guidance-distilled denoiser such as FLUX.1-dev, which then
 * runs without a classifier-free guidance pass). With {@code schedule.sequence_patch} the sampler
 * follows FluxPipeline's schedule for the request's image sequence length.
 */
public final class LatentDiffusion implements Generator, Calibratable {
  static final String SAMPLE = "sample";
  static final String TIMESTEP = "timestep";
  static final String ENCODER_HIDDEN_STATES = "encoder_hidden_states";
  static final String TEXT_EMBEDS = "text_embeds";
  static final String TIME_IDS = "time_ids";
  static final String GUIDANCE = "guidance";
  private static final Set<String> GRAPH_INPUTS =
      Set.of(SAMPLE, TIMESTEP, ENCODER_HIDDEN_STATES, TEXT_EMBEDS, TIME_IDS, GUIDANCE);

  private final ModelPackage pkg;
  private final Device device;
  private final LoadedComponents components;
  private final TextConditioner text;
  private final DenoiserGraph denoiser;
  private final SchedulerConfig scheduler;
  private final LatentSpec latent;
  private final List<String> graphInputs;

  /** FluxPipeline's schedule when > 0: the latent patch side behind the image sequence length. */
  private final int sequencePatch;

  LatentDiffusion(ModelPackage pkg, Device device) {
    this.pkg = pkg;
    this.device = device;
    ModelManifest manifest = pkg.manifest();
    Path manifestFile = pkg.root().resolve(ModelPackage.MANIFEST_FILE);
    this.latent = manifest.getLatent();
    if (latent.getDownsample() < 1 || latent.getChannels() < 1) {
      throw new ModelPackageException(
          manifestFile + ": latent.channels and latent.downsample must be set");
    }
    this.scheduler = DiffusionPackages.schedulerConfig(pkg);
    this.sequencePatch = manifest.getSchedule().getSequencePatch();
    if (sequencePatch < 0 || (sequencePatch > 0 && !scheduler.isFlowMatching())) {
      throw new ModelPackageException(
          manifestFile
              + ": schedule.sequence_patch is FluxPipeline's schedule, for a flow-matching"
              + " scheduler config (a patch side >= 1), got "
              + sequencePatch);
    }
    if (scheduler.usesDynamicShifting() && sequencePatch == 0) {
      throw new ModelPackageException(
          scheduler.source()
              + ": use_dynamic_shifting true needs a mu from the image sequence length, which the"
              + " Stable Diffusion pipelines do not pass; set schedule.sequence_patch for"
              + " FluxPipeline's schedule");
    }
    DiffusionPackages.checkPrediction(pkg, scheduler);
    this.graphInputs = List.copyOf(manifest.getDenoiser().getInputsList());
    for (String input : graphInputs) {
      if (!GRAPH_INPUTS.contains(input)) {
        throw new ModelPackageException(
            manifestFile
                + ": denoiser input '"
                + input
                + "' is not one latent diffusion can provide (it provides "
                + String.join(", ", GRAPH_INPUTS.stream().sorted().toList())
                + ")");
      }
    }
    if (!graphInputs.contains(SAMPLE) || !graphInputs.contains(TIMESTEP)) {
      throw new ModelPackageException(
          manifestFile + ": denoiser inputs must include 'sample' and 'timestep'");
    }
    this.components = LoadedComponents.load(pkg, device);
    TextConditioner loadedText = null;
    try {
      loadedText = TextConditioner.load(pkg, components);
      if (graphInputs.contains(TEXT_EMBEDS) && !loadedText.hasPooled()) {
        throw new ModelPackageException(
            manifestFile
                + ": the denoiser takes 'text_embeds' but text.pooled_from names no encoder");
      }
      this.denoiser = new DenoiserGraph(manifest.getDenoiser(), components);
      components.get("vae_decoder");
      try {
        Samplers.check(SamplerKind.parse(DiffusionPackages.defaultSampler(manifest)), scheduler);
      } catch (IllegalArgumentException e) {
        throw new ModelPackageException(
            pkg.root()
                + ": the default sampler '"
                + DiffusionPackages.defaultSampler(manifest)
                + "' cannot be built from the scheduler config: "
                + e.getMessage(),
            e);
      }
    } catch (RuntimeException e) {
      if (loadedText != null) {
        loadedText.close();
      }
      components.close();
      throw e;
    }
    this.text = loadedText;
  }

  @Override
  public ModelPackage pkg() {
    return pkg;
  }

  TextConditioner text() {
    return text;
  }

  LoadedComponents components() {
    return components;
  }

  @Override
  public GenerationSpec defaults(String prompt, long seed) {
    ModelManifest manifest = pkg.manifest();
    GenerationSpec.Builder spec =
        GenerationSpec.fromDefaults(
                manifest.getDefaults(), prompt, seed, DiffusionPackages.defaultSampler(manifest))
            .toBuilder()
            .clipSkip(text.defaultClipSkip());
    if (manifest.getDefaults().getWidth() == 0 || manifest.getDefaults().getHeight() == 0) {
      spec.size(
          latent.getWidth() * latent.getDownsample(), latent.getHeight() * latent.getDownsample());
    }
    return spec.build();
  }

  @Override
  public void validate(GenerationSpec spec) {
    DiffusionRequests.sampler(pkg, spec, scheduler);
    ImageSizes.check(pkg.manifest(), spec.width(), spec.height());
    if (!classifierFreeGuidance() && !spec.negativePrompt().isEmpty()) {
      throw new IllegalArgumentException(
          "negative_prompt: "
              + pkg.name()
              + " runs no classifier-free guidance pass (guidance-distilled, or FluxPipeline's"
              + " schedule), so it takes no negative prompt");
    }
    text.checkClipSkip(spec.clipSkip(), "clip_skip");
    PromptBatch.of(text.tokenizers(), List.of(spec));
    if (spec.reference().isPresent() && !components.has("vae_encoder")) {
      throw new IllegalArgumentException(
          "reference_images: " + pkg.name() + " has no encoder for image-to-image");
    }
    spec.reference().ifPresent(image -> DiffusionRequests.checkReferenceSize(image, spec, "image"));
    CachePolicies.resolve(pkg.manifest(), spec.cache(), spec.sampler(), spec.steps());
  }

  /**
   * Whether this package's pipeline runs a classifier-free guidance pass: not FluxPipeline's
   * (sequence_patch set), which has no negative prompt, and not a guidance-distilled denoiser.
   */
  private boolean classifierFreeGuidance() {
    return sequencePatch == 0 && !graphInputs.contains(GUIDANCE);
  }

  Sampler sampler(GenerationSpec spec) {
    SamplerKind kind = SamplerKind.parse(spec.sampler());
    if (sequencePatch == 0) {
      return Samplers.create(kind, scheduler, spec.steps(), spec.eta());
    }
    long h = spec.height() / latent.getDownsample() / sequencePatch;
    long w = spec.width() / latent.getDownsample() / sequencePatch;
    return Samplers.createForImageSequence(kind, scheduler, spec.steps(), spec.eta(), h * w);
  }

  @Override
  public List<GeneratedMedia> generate(List<GenerationSpec> batch, ProgressListener progress) {
    Batches.checkCompatible(batch);
    batch.forEach(this::validate);
    long start = System.nanoTime();
    try (NDManager scope = NDManager.newBaseManager(device)) {
      PromptBatch prompts = PromptBatch.of(text.tokenizers(), batch);
      List<NDArray> references = new ArrayList<>();
      batch.forEach(spec -> spec.reference().ifPresent(r -> references.add(r.toSymmetric(scope))));
      NDArray reference = references.isEmpty() ? null : NDArrays.stack(new NDList(references));
      Trajectory result =
          sample(
              scope,
              prompts,
              reference,
              batch.get(0),
              batch.stream().map(GenerationSpec::cache).toList(),
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
                result.evaluations()[b],
                result.skips()[b],
                millis,
                batch.size(),
                prompts.truncated(b)));
      }
      return media;
    }
  }

  /** Latents and block counts of one batched trajectory. Block counts are per item. */
  record Trajectory(NDArray latents, long[] evaluations, long[] skips) {}

  /**
   * The denoising loop, as diffusers' pipelines run it: initial noise times the sampler's
   * init_noise_sigma (or the noised reference), then per step scale_model_input, the denoiser on
   * [unconditional; conditional] rows, guidance, and the sampler's step. The prompts' noise streams
   * supply, per item, the initial latent noise and then any per-step noise in step order.
   */
  Trajectory sample(
      NDManager scope,
      PromptBatch prompts,
      NDArray referencePixels,
      GenerationSpec spec,
      ProgressListener progress,
      GraphExecutor.BlockObserver observer) {
    return sample(
        scope,
        prompts,
        referencePixels,
        spec,
        java.util.Collections.nCopies(prompts.size(), spec.cache()),
        progress,
        observer);
  }

  /** As above, each item with its own cache policy ({@link LaneExecutor}). */
  Trajectory sample(
      NDManager scope,
      PromptBatch prompts,
      NDArray referencePixels,
      GenerationSpec spec,
      List<CacheSpec> caches,
      ProgressListener progress,
      GraphExecutor.BlockObserver observer) {
    int batch = prompts.size();
    int width = spec.width();
    int height = spec.height();
    Shape itemShape =
        new Shape(
            1,
            latent.getChannels(),
            height / latent.getDownsample(),
            width / latent.getDownsample());
    // As diffusers' pipelines decide: guidance runs only for a scale above 1, and never for
    // FluxPipeline's models; a guidance-distilled denoiser takes the scale as its `guidance` input.
    boolean distilled = graphInputs.contains(GUIDANCE);
    boolean guided = classifierFreeGuidance() && spec.guidanceScale() > 1f;
    TextConditioner.Conditioning conditioning =
        text.encode(scope, prompts, guided, spec.clipSkip());
    int rows = guided ? 2 * batch : batch;
    Map<String, NDArray> fixedInputs = new HashMap<>();
    fixedInputs.put(ENCODER_HIDDEN_STATES, conditioning.hiddenStates());
    if (graphInputs.contains(TEXT_EMBEDS)) {
      fixedInputs.put(TEXT_EMBEDS, conditioning.pooled());
    }
    if (graphInputs.contains(TIME_IDS)) {
      fixedInputs.put(TIME_IDS, timeIds(scope, rows, width, height));
    }
    if (distilled) {
      fixedInputs.put(GUIDANCE, scope.full(new Shape(rows), spec.guidanceScale()));
    }
    Sampler sampler = sampler(spec);
    LaneExecutor executor =
        denoiser.executor(
            CachePolicies.rows(pkg.manifest(), caches, spec.sampler(), spec.steps(), guided),
            observer);

    NDArray noise = PromptBatch.gaussians(scope, prompts.noise(), itemShape);
    NDArray x;
    int first = 0;
    if (referencePixels != null) {
      // diffusers' img2img get_timesteps: init = min(int(N * strength), N), start = N - init.
      int initSteps = Math.min((int) (sampler.steps() * spec.strength()), sampler.steps());
      first = Math.max(sampler.steps() - initSteps, 0);
      if (first >= sampler.steps()) {
        throw new IllegalArgumentException("strength: too small to take any step");
      }
      x = sampler.addNoise(encodeImage(referencePixels), noise, first);
    } else {
      double sigma = sampler.initNoiseSigma();
      x = sigma == 1.0 ? noise : noise.mul(sigma);
    }
    int steps = sampler.steps();
    int total = steps - first;
    Supplier<NDArray> stepNoise = () -> PromptBatch.gaussians(scope, prompts.noise(), itemShape);
    for (int i = first; i < steps; i++) {
      if (progress.cancelled()) {
        throw new GenerationCancelledException(i - first, total);
      }
      NDArray input = sampler.scaleModelInput(guided ? x.concat(x, 0) : x, i);
      Map<String, NDArray> inputs = new HashMap<>(fixedInputs);
      inputs.put(SAMPLE, input);
      inputs.put(TIMESTEP, scope.full(new Shape(rows), sampler.modelTimestep(i)));
      NDArray out = executor.run(i - first, total, inputs);
      NDArray prediction = out;
      if (guided) {
        prediction =
            Guidance.combine(
                out.get("0:" + batch),
                out.get(batch + ":"),
                spec.guidanceScale(),
                spec.guidanceRescale());
      }
      x = sampler.step(i, prediction, x, stepNoise);
      NDArray current = x;
      progress.onStep(
          i - first + 1, total, () -> RgbImage.fromSymmetric(decode(current.get("0:1")).get(0)));
    }
    return new Trajectory(x, executor.itemEvaluations(batch), executor.itemSkips(batch));
  }

  /**
   * SDXL's micro-conditioning per row: original height and width, crop top and left, target height
   * and width (diffusers' add_time_ids with its defaults: original = target = the requested size,
   * no crop).
   */
  private static NDArray timeIds(NDManager scope, int rows, int width, int height) {
    float[] values = new float[rows * 6];
    for (int r = 0; r < rows; r++) {
      System.arraycopy(new float[] {height, width, 0, 0, height, width}, 0, values, r * 6, 6);
    }
    return scope.create(values, new Shape(rows, 6));
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
      PromptBatch prompts = PromptBatch.of(text.tokenizers(), batch);
      GenerationSpec uncached = batch.get(0).toBuilder().cache(CacheSpec.NONE).build();
      sample(scope, prompts, null, uncached, ProgressListener.NONE, observer);
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
    text.close();
    components.close();
  }
}
