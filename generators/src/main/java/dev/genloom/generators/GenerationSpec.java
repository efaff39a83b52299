package dev.genloom.generators;

import dev.genloom.proto.v1.CfgSchedule;
import dev.genloom.proto.v1.SamplerDefaults;
import java.util.Optional;

/**
 * One fully resolved generation: every setting has a value (defaults come from the package manifest
 * before a spec is built). Immutable.
 *
 * @param prompt text prompt
 * @param negativePrompt negative prompt, "" for the unconditional branch
 * @param seed noise seed
 * @param steps denoising steps (diffusion) — ignored by autoregressive models
 * @param guidanceScale classifier-free guidance scale (1 disables guidance)
 * @param sampler "ddim", "dpmpp2m", "euler" or "ar"
 * @param eta DDIM eta
 * @param cache caching policy
 * @param reference optional reference image (image-to-image, or first frame for video)
 * @param strength SDEdit strength for image-to-image, in (0, 1]
 * @param numFrames frames for video models
 * @param temperature AR sampling temperature
 * @param topK AR top-k (0 = off)
 * @param topP AR nucleus threshold (1 = off)
 * @param cfgSchedule AR guidance schedule across image tokens
 * @param width image width in pixels
 * @param height image height in pixels
 * @param guidanceRescale diffusers' guidance_rescale in [0, 1] (0 = off)
 * @param clipSkip final text-encoder layers skipped (diffusers' clip_skip, 0 = none)
 * @param refuseTruncation refuse a prompt longer than the text encoder takes instead of truncating
 *     it
 */
public record GenerationSpec(
    String prompt,
    String negativePrompt,
    long seed,
    int steps,
    float guidanceScale,
    String sampler,
    float eta,
    CacheSpec cache,
    Optional<RgbImage> reference,
    float strength,
    int numFrames,
    float temperature,
    int topK,
    float topP,
    CfgSchedule cfgSchedule,
    int width,
    int height,
    float guidanceRescale,
    int clipSkip,
    boolean refuseTruncation) {

  public GenerationSpec {
    if (prompt == null) {
      throw new IllegalArgumentException("prompt: must be set");
    }
    if (!Float.isFinite(guidanceScale)) {
      throw new IllegalArgumentException("guidance_scale: must be finite, got " + guidanceScale);
    }
    if (steps < 1 || steps > 1000) {
      throw new IllegalArgumentException("steps: must be in 1..1000, got " + steps);
    }
    if (!(strength > 0 && strength <= 1)) {
      throw new IllegalArgumentException("strength: must be in (0, 1], got " + strength);
    }
    if (!(temperature > 0) || !Float.isFinite(temperature)) {
      throw new IllegalArgumentException("temperature: must be a finite value > 0");
    }
    if (topK < 0) {
      throw new IllegalArgumentException("top_k: must be >= 0, got " + topK);
    }
    if (!(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("top_p: must be in (0, 1], got " + topP);
    }
    if (width < 0 || height < 0) {
      throw new IllegalArgumentException("width: width and height must be >= 0");
    }
    if (!(guidanceRescale >= 0 && guidanceRescale <= 1)) {
      throw new IllegalArgumentException(
          "guidance_rescale: must be in [0, 1], got " + guidanceRescale);
    }
    if (clipSkip < 0) {
      throw new IllegalArgumentException("clip_skip: must be >= 0, got " + clipSkip);
    }
    negativePrompt = negativePrompt == null ? "" : negativePrompt;
    reference = reference == null ? Optional.empty() : reference;
    cache = cache == null ? CacheSpec.NONE : cache;
    cfgSchedule = cfgSchedule == null ? CfgSchedule.getDefaultInstance() : cfgSchedule;
  }

  /**
   * The settings that must agree for specs to share one batched forward: everything except prompt,
   * negative prompt, seed, reference image and cache policy (each item keeps its own cache state,
   * {@link dev.genloom.generators.graph.LaneExecutor}).
   */
  public String batchKey() {
    return String.join(
        "|",
        sampler,
        Integer.toString(steps),
        Float.toString(guidanceScale),
        Float.toString(eta),
        Float.toString(strength),
        Integer.toString(numFrames),
        Float.toString(temperature),
        Integer.toString(topK),
        Float.toString(topP),
        cfgSchedule.toString().replace('\n', ' '),
        Boolean.toString(reference.isPresent()),
        width + "x" + height,
        Float.toString(guidanceRescale),
        Integer.toString(clipSkip));
  }

  /**
   * A spec at a package's recorded defaults: unset numbers take neutral values (strength 0.6,
   * temperature 1, top-p 1, one frame, no clip skip). Generators adjust what their kind fixes.
   */
  public static GenerationSpec fromDefaults(
      SamplerDefaults d, String prompt, long seed, String sampler) {
    return new GenerationSpec(
        prompt,
        "",
        seed,
        d.getSteps() > 0 ? d.getSteps() : 20,
        d.getGuidanceScale(),
        sampler,
        d.getEta(),
        CacheSpec.NONE,
        Optional.empty(),
        d.getStrength() > 0 ? d.getStrength() : 0.6f,
        1,
        d.getTemperature() > 0 ? d.getTemperature() : 1f,
        d.getTopK(),
        d.getTopP() > 0 ? d.getTopP() : 1f,
        d.getCfgSchedule(),
        d.getWidth(),
        d.getHeight(),
        d.getGuidanceRescale(),
        0,
        false);
  }

  public GenerationSpec withSeed(long newSeed) {
    return toBuilder().seed(newSeed).build();
  }

  public Builder toBuilder() {
    return new Builder(this);
  }

  /** Copies a spec with some settings changed; {@link #build()} validates the result. */
  public static final class Builder {
    private String prompt;
    private String negativePrompt;
    private long seed;
    private int steps;
    private float guidanceScale;
    private String sampler;
    private float eta;
    private CacheSpec cache;
    private Optional<RgbImage> reference;
    private float strength;
    private int numFrames;
    private float temperature;
    private int topK;
    private float topP;
    private CfgSchedule cfgSchedule;
    private int width;
    private int height;
    private float guidanceRescale;
    private int clipSkip;
    private boolean refuseTruncation;

    private Builder(GenerationSpec s) {
      prompt = s.prompt;
      negativePrompt = s.negativePrompt;
      seed = s.seed;
      steps = s.steps;
      guidanceScale = s.guidanceScale;
      sampler = s.sampler;
      eta = s.eta;
      cache = s.cache;
      reference = s.reference;
      strength = s.strength;
      numFrames = s.numFrames;
      temperature = s.temperature;
      topK = s.topK;
      topP = s.topP;
      cfgSchedule = s.cfgSchedule;
      width = s.width;
      height = s.height;
      guidanceRescale = s.guidanceRescale;
      clipSkip = s.clipSkip;
      refuseTruncation = s.refuseTruncation;
    }

    public Builder prompt(String v) {
      prompt = v;
      return this;
    }

    public Builder negativePrompt(String v) {
      negativePrompt = v;
      return this;
    }

    public Builder seed(long v) {
      seed = v;
      return this;
    }

    public Builder steps(int v) {
      steps = v;
      return this;
    }

    public Builder guidanceScale(float v) {
      guidanceScale = v;
      return this;
    }

    public Builder sampler(String v) {
      sampler = v;
      return this;
    }

    public Builder eta(float v) {
      eta = v;
      return this;
    }

    public Builder cache(CacheSpec v) {
      cache = v;
      return this;
    }

    public Builder reference(Optional<RgbImage> v) {
      reference = v;
      return this;
    }

    public Builder strength(float v) {
      strength = v;
      return this;
    }

    public Builder numFrames(int v) {
      numFrames = v;
      return this;
    }

    public Builder temperature(float v) {
      temperature = v;
      return this;
    }

    public Builder topK(int v) {
      topK = v;
      return this;
    }

    public Builder topP(float v) {
      topP = v;
      return this;
    }

    public Builder cfgSchedule(CfgSchedule v) {
      cfgSchedule = v;
      return this;
    }

    public Builder width(int v) {
      width = v;
      return this;
    }

    public Builder height(int v) {
      height = v;
      return this;
    }

    /** Width and height together. */
    public Builder size(int w, int h) {
      width = w;
      height = h;
      return this;
    }

    public Builder guidanceRescale(float v) {
      guidanceRescale = v;
      return this;
    }

    public Builder clipSkip(int v) {
      clipSkip = v;
      return this;
    }

    public Builder refuseTruncation(boolean v) {
      refuseTruncation = v;
      return this;
    }

    public GenerationSpec build() {
      return new GenerationSpec(
          prompt,
          negativePrompt,
          seed,
          steps,
          guidanceScale,
          sampler,
          eta,
          cache,
          reference,
          strength,
          numFrames,
          temperature,
          topK,
          topP,
          cfgSchedule,
          width,
          height,
          guidanceRescale,
          clipSkip,
          refuseTruncation);
    }
  }
}
