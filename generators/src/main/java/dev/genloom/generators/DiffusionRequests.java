package dev.genloom.generators;

import dev.genloom.generators.sampling.SamplerKind;
import dev.genloom.generators.sampling.Samplers;
import dev.genloom.generators.sampling.SchedulerConfig;

/**
 * The request checks the diffusion generators built on a diffusers scheduler config share; each
 * refusal names the request field.
 */
final class DiffusionRequests {
  private DiffusionRequests() {}

  /** The request's sampler, refused unless {@code scheduler} can build it. */
  static SamplerKind sampler(ModelPackage pkg, GenerationSpec spec, SchedulerConfig scheduler) {
    SamplerKind kind = SamplerKind.parse(spec.sampler());
    if (kind == SamplerKind.AR) {
      throw new IllegalArgumentException(
          "sampler: " + pkg.name() + " is a diffusion model; 'ar' is for autoregressive models");
    }
    try {
      Samplers.check(kind, scheduler);
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      throw new IllegalArgumentException(
          message.startsWith("sampler: ") ? message : "sampler: " + message, e);
    }
    return kind;
  }

  /** A reference image must have the requested size; {@code what} names it in the refusal. */
  static void checkReferenceSize(RgbImage image, GenerationSpec spec, String what) {
    if (image.width() != spec.width() || image.height() != spec.height()) {
      throw new IllegalArgumentException(
          "reference_images: expected a "
              + spec.width()
              + "x"
              + spec.height()
              + " "
              + what
              + " (the requested size), got "
              + image.width()
              + "x"
              + image.height());
    }
  }
}
