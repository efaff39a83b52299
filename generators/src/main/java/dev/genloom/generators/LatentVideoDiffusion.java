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
import dev.genloom.proto.v1.CfgSchedule;
import dev.genloom.proto.v1.LatentSpec;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.VideoSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * CogVideoX-style latent video diffusion, the loop diffusers' CogVideoX pipelines run: T5 text
 * conditioning, latents {@code [B, F', C, h, w]} with {@code F' = 1 + (F - 1) / t} for the VAE's
 * temporal compression t, a transformer block graph, classifier-free guidance as one batched
 * forward (optionally with CogVideoX's dynamic scale), the package's CogVideoX scheduler, and the
 * causal video VAE decoded in frame chunks ({@link VideoVae}). An image-to-video package
 * concatenates the first frame's latent, zero frames after it, to the latents along channels.
 */
public final class LatentVideoDiffusion implements Generator, Calibratable {
  private static final String SAMPLE = "sample";
  private static final String TIMESTEP = "timestep";
  private static final String ENCODER_HIDDEN_STATES = "encoder_hidden_states";
  private static final Set<String> GRAPH_INPUTS = Set.of(SAMPLE, TIMESTEP, ENCODER_HIDDEN_STATES);

  private final ModelPackage pkg;
  private final Device device;
  private final LoadedComponents components;
  private final TextConditioner text;
  private final DenoiserGraph denoiser;
  private final SchedulerConfig scheduler;
  private final LatentSpec latent;
  private final VideoSpec video;
  private final VideoVae vae;
  private final boolean imageToVideo;

  LatentVideoDiffusion(ModelPackage pkg, Device device) {
    this.pkg = pkg;
    this.device = device;
    ModelManifest manifest = pkg.manifest();
    Path manifestFile = pkg.root().resolve(ModelPackage.MANIFEST_FILE);
    this.latent = manifest.getLatent();
    this.video = manifest.getVideo();
    if (latent.getDownsample() < 1 || latent.getChannels() < 1) {
      throw new ModelPackageException(
          manifestFile + ": latent.channels and latent.downsample must be set");
    }
    if (video.getTemporalCompression() < 1
        || video.getHeadFrames() < 1
        || video.getStepFrames() < 1) {
      throw new ModelPackageException(
          manifestFile + ": video.temporal_compression, head_frames and step_frames must be >= 1");
    }
    this.imageToVideo =
        switch (video.getImageConditioning()) {
          case IMAGE_CONDITIONING_NONE -> false;
          case IMAGE_CONDITIONING_CHANNEL_CONCAT -> true;
          default ->
              throw new ModelPackageException(
                  manifestFile + ": video.image_conditioning must be NONE or CHANNEL_CONCAT");
        };
    for (int frames : manifest.getSupportedFrameCountsList()) {
      checkFrames(frames, manifestFile + ": supported_frame_counts");
    }
    if (manifest.getSupportedFrameCountsCount() == 0) {
      throw new ModelPackageException(manifestFile + ": supported_frame_counts is empty");
    }
    this.scheduler = DiffusionPackages.schedulerConfig(pkg);
    if (!scheduler.isCogVideoX()) {
      throw new ModelPackageException(
          scheduler.source()
              + ": a latent video package samples with CogVideoX's schedulers, not "
              + scheduler.className());
    }
    DiffusionPackages.checkPrediction(pkg, scheduler);
    List<String> inputs = manifest.getDenoiser().getInputsList();
    if (!Set.copyOf(inputs).equals(GRAPH_INPUTS)) {
      throw new ModelPackageException(
          manifestFile
              + ": a latent video denoiser takes exactly "
              + GRAPH_INPUTS
              + ", not "
              + inputs);
    }
    this.components = LoadedComponents.load(pkg, device);
    TextConditioner loadedText = null;
    try {
      loadedText = TextConditioner.load(pkg, components);
      this.denoiser = new DenoiserGraph(manifest.getDenoiser(), components);
      this.vae = VideoVae.bind(pkg, components, video, latent, imageToVideo);
      Samplers.check(SamplerKind.parse(DiffusionPackages.defaultSampler(manifest)), scheduler);
    } catch (RuntimeException e) {
      if (loadedText != null) {
        loadedText.close();
      }
      components.close();
      throw e;
    }
    this.text = loadedText;
  }

  /**
   * Latent frames of {@code frames} video frames, refusing counts the VAE cannot decode to them.
   */
  private int latentFrames(int frames, String field) {
    int t = video.getTemporalCompression();
    int head = video.getHeadFrames();
    int step = video.getStepFrames();
    if (frames < 1 || (frames - 1) % t != 0) {
      throw new IllegalArgumentException(
          field
              + ": "
              + frames
              + " frames is not 1 + "
              + t
              + " k (the VAE's temporal compression)");
    }
    int latentFrames = 1 + (frames - 1) / t;
    if (latentFrames < head || (latentFrames - head) % step != 0) {
      throw new IllegalArgumentException(
          field
              + ": "
              + frames
              + " frames are "
              + latentFrames
              + " latent frames, which the VAE decodes to another count (it decodes "
              + head
              + " latent frames, then "
              + step
              + " at a time)");
    }
    return latentFrames;
  }

  private void checkFrames(int frames, String field) {
    try {
      latentFrames(frames, field);
    } catch (IllegalArgumentException e) {
      throw new ModelPackageException(e.getMessage(), e);
    }
  }

  @Override
  public ModelPackage pkg() {
    return pkg;
  }

  TextConditioner text() {
    return text;
  }

  @Override
  public GenerationSpec defaults(String prompt, long seed) {
    ModelManifest manifest = pkg.manifest();
    var d = manifest.getDefaults();
    GenerationSpec.Builder spec =
        GenerationSpec.fromDefaults(d, prompt, seed, DiffusionPackages.defaultSampler(manifest))
            .toBuilder()
            .numFrames(
                d.getNumFrames() > 0 ? d.getNumFrames() : manifest.getSupportedFrameCounts(0))
            .clipSkip(text.defaultClipSkip());
    if (d.getWidth() == 0 || d.getHeight() == 0) {
      spec.size(
          latent.getWidth() * latent.getDownsample(), latent.getHeight() * latent.getDownsample());
    }
    return spec.build();
  }

  @Override
  public void validate(GenerationSpec spec) {
    DiffusionRequests.sampler(pkg, spec, scheduler);
    sampler(spec); // the step count and eta, which CogVideoX's DDIM refuses, for this request
    ImageSizes.check(pkg.manifest(), spec.width(), spec.height());
    List<Integer> frames = pkg.manifest().getSupportedFrameCountsList();
    if (!frames.contains(spec.numFrames())) {
      latentFrames(spec.numFrames(), "num_frames");
      throw new IllegalArgumentException(
          "num_frames: " + pkg.name() + " supports " + frames + ", got " + spec.numFrames());
    }
    if (spec.guidanceRescale() != 0f) {
      throw new IllegalArgumentException(
          "guidance_rescale: the CogVideoX pipelines have none; " + pkg.name() + " takes 0");
    }
    CfgSchedule.Shape shape = spec.cfgSchedule().getShape();
    if (shape == CfgSchedule.Shape.SHAPE_LINEAR) {
      throw new IllegalArgumentException(
          "cfg_schedule: LINEAR is the autoregressive models' schedule; "
              + pkg.name()
              + " takes CONSTANT or COGVIDEOX_DYNAMIC");
    }
    text.checkClipSkip(spec.clipSkip(), "clip_skip");
    PromptBatch.of(text.tokenizers(), List.of(spec));
    if (imageToVideo) {
      RgbImage image =
          spec.reference()
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "reference_images: "
                              + pkg.name()
                              + " is image-to-video and needs the first frame"));
      DiffusionRequests.checkReferenceSize(image, spec, "first frame");
    } else if (spec.reference().isPresent()) {
      throw new IllegalArgumentException(
          "reference_images: " + pkg.name() + " is text-to-video and takes no reference image");
    }
    CachePolicies.resolve(pkg.manifest(), spec.cache(), spec.sampler(), spec.steps());
  }

  Sampler sampler(GenerationSpec spec) {
    return Samplers.create(SamplerKind.parse(spec.sampler()), scheduler, spec.steps(), spec.eta());
  }

  @Override
  public List<GeneratedMedia> generate(List<GenerationSpec> batch, ProgressListener progress) {
    Batches.checkCompatible(batch);
    batch.forEach(this::validate);
    long start = System.nanoTime();
    try (NDManager scope = NDManager.newBaseManager(device)) {
      PromptBatch prompts = PromptBatch.of(text.tokenizers(), batch);
      NDArray references = references(scope, batch);
      Trajectory result =
          sample(
              scope,
              prompts,
              references,
              batch.get(0),
              batch.stream().map(GenerationSpec::cache).toList(),
              progress,
              GraphExecutor.BlockObserver.NONE);
      NDArray pixels = vae.decode(result.latents()); // [B, 3, F, H, W]
      long millis = (System.nanoTime() - start) / 1_000_000;
      int frames = (int) pixels.getShape().get(2);
      int fps =
          pkg.manifest().getDefaults().getFps() > 0 ? pkg.manifest().getDefaults().getFps() : 8;
      List<GeneratedMedia> media = new ArrayList<>();
      for (int b = 0; b < batch.size(); b++) {
        List<RgbImage> images = new ArrayList<>();
        for (int f = 0; f < frames; f++) {
          images.add(RgbImage.fromSymmetric(pixels.get(b).get(":, " + f)));
        }
        media.add(
            new GeneratedMedia(
                images,
                fps,
                result.evaluations()[b],
                result.skips()[b],
                millis,
                batch.size(),
                prompts.truncated(b)));
      }
      return media;
    }
  }

  private NDArray references(NDManager scope, List<GenerationSpec> batch) {
    if (!imageToVideo) {
      return null;
    }
    List<NDArray> images = new ArrayList<>();
    batch.forEach(spec -> images.add(spec.reference().orElseThrow().toSymmetric(scope)));
    return NDArrays.stack(new NDList(images));
  }

  /** Latents {@code [B, F', C, h, w]} and block counts of one batched trajectory. */
  record Trajectory(NDArray latents, long[] evaluations, long[] skips) {}

  /**
   * The denoising loop as the CogVideoX pipelines run it. Per item, the noise stream supplies the
   * image posterior's draw (image-to-video), then the initial latent, then the scheduler's draws.
   */
  Trajectory sample(
      NDManager scope,
      PromptBatch prompts,
      NDArray firstFrames,
      GenerationSpec spec,
      ProgressListener progress,
      GraphExecutor.BlockObserver observer) {
    return sample(
        scope,
        prompts,
        firstFrames,
        spec,
        java.util.Collections.nCopies(prompts.size(), spec.cache()),
        progress,
        observer);
  }

  /** As above, each item with its own cache policy ({@link LaneExecutor}). */
  Trajectory sample(
      NDManager scope,
      PromptBatch prompts,
      NDArray firstFrames,
      GenerationSpec spec,
      List<CacheSpec> caches,
      ProgressListener progress,
      GraphExecutor.BlockObserver observer) {
    int batch = prompts.size();
    int latentFrames = latentFrames(spec.numFrames(), "num_frames");
    int h = spec.height() / latent.getDownsample();
    int w = spec.width() / latent.getDownsample();
    int channels = latent.getChannels();
    boolean guided = spec.guidanceScale() > 1f;
    TextConditioner.Conditioning conditioning =
        text.encode(scope, prompts, guided, spec.clipSkip());
    int rows = guided ? 2 * batch : batch;
    NDArray imageLatents = null;
    if (imageToVideo) {
      NDArray posteriorNoise =
          PromptBatch.gaussians(scope, prompts.noise(), new Shape(1, channels, 1, h, w));
      NDArray first = vae.encodeFirstFrames(firstFrames, posteriorNoise); // [B, 1, C, h, w]
      NDArray padding = scope.zeros(new Shape(batch, latentFrames - 1, channels, h, w));
      imageLatents = first.concat(padding, 1);
      if (guided) {
        imageLatents = imageLatents.concat(imageLatents, 0);
      }
    }
    Shape itemShape = new Shape(1, latentFrames, channels, h, w);
    Sampler sampler = sampler(spec);
    LaneExecutor executor =
        denoiser.executor(
            CachePolicies.rows(pkg.manifest(), caches, spec.sampler(), spec.steps(), guided),
            observer);
    NDArray x = PromptBatch.gaussians(scope, prompts.noise(), itemShape);
    double sigma = sampler.initNoiseSigma();
    if (sigma != 1.0) {
      x = x.mul(sigma);
    }
    Supplier<NDArray> stepNoise = () -> PromptBatch.gaussians(scope, prompts.noise(), itemShape);
    boolean dynamic = spec.cfgSchedule().getShape() == CfgSchedule.Shape.SHAPE_COGVIDEOX_DYNAMIC;
    int steps = sampler.steps();
    Map<String, NDArray> fixed = new HashMap<>();
    fixed.put(ENCODER_HIDDEN_STATES, conditioning.hiddenStates());
    for (int i = 0; i < steps; i++) {
      if (progress.cancelled()) {
        throw new GenerationCancelledException(i, steps);
      }
      NDArray input = sampler.scaleModelInput(guided ? x.concat(x, 0) : x, i);
      if (imageLatents != null) {
        input = input.concat(imageLatents, 2);
      }
      Map<String, NDArray> inputs = new HashMap<>(fixed);
      inputs.put(SAMPLE, input);
      inputs.put(TIMESTEP, scope.full(new Shape(rows), sampler.modelTimestep(i)));
      NDArray out = executor.run(i, steps, inputs);
      NDArray prediction = out;
      if (guided) {
        float scale = spec.guidanceScale();
        if (dynamic) {
          // diffusers' use_dynamic_cfg, with t the timestep value as the pipelines compute it
          double t = sampler.modelTimestep(i);
          scale =
              (float)
                  (1
                      + spec.guidanceScale()
                          * ((1 - Math.cos(Math.PI * Math.pow((steps - t) / steps, 5.0))) / 2));
        }
        prediction = Guidance.combine(out.get("0:" + batch), out.get(batch + ":"), scale, 0);
      }
      x = sampler.step(i, prediction, x, stepNoise);
      progress.onStep(i + 1, steps, () -> null);
    }
    return new Trajectory(x, executor.itemEvaluations(batch), executor.itemSkips(batch));
  }

  /** Decoded video {@code [B, 3, F, H, W]} in [-1, 1]. */
  NDArray decode(NDArray latents) {
    return vae.decode(latents);
  }

  @Override
  public void observeUncached(List<GenerationSpec> batch, GraphExecutor.BlockObserver observer) {
    Batches.checkCompatible(batch);
    batch.forEach(this::validate);
    try (NDManager scope = NDManager.newBaseManager(device)) {
      PromptBatch prompts = PromptBatch.of(text.tokenizers(), batch);
      GenerationSpec uncached = batch.get(0).toBuilder().cache(CacheSpec.NONE).build();
      sample(scope, prompts, references(scope, batch), uncached, ProgressListener.NONE, observer);
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
