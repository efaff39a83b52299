package dev.genloom.generators;

import dev.genloom.proto.v1.CfgSchedule;
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
    CfgSchedule cfgSchedule) {

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
    negativePrompt = negativePrompt == null ? "" : negativePrompt;
    reference = reference == null ? Optional.empty() : reference;
    cache = cache == null ? CacheSpec.NONE : cache;
    cfgSchedule = cfgSchedule == null ? CfgSchedule.getDefaultInstance() : cfgSchedule;
  }

  /**
   * The settings that must agree for specs to share one batched forward: everything except prompt,
   * negative prompt, seed and reference image.
   */
  public String batchKey() {
    return String.join(
        "|",
        sampler,
        Integer.toString(steps),
        Float.toString(guidanceScale),
        Float.toString(eta),
        cache.toString(),
        Float.toString(strength),
        Integer.toString(numFrames),
        Float.toString(temperature),
        Integer.toString(topK),
        Float.toString(topP),
        cfgSchedule.toString().replace('\n', ' '),
        Boolean.toString(reference.isPresent()));
  }

  public GenerationSpec withSeed(long newSeed) {
    return new GenerationSpec(
        prompt,
        negativePrompt,
        newSeed,
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
        cfgSchedule);
  }
}
