package dev.genloom.workers;

import dev.genloom.generators.CacheSpec;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.ImageSizes;
import dev.genloom.generators.RgbImage;
import dev.genloom.generators.sampling.SamplerKind;
import dev.genloom.proto.v1.ArSampling;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.ReferenceImage;
import dev.genloom.proto.v1.Size;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.LongSupplier;
import javax.imageio.ImageIO;

/**
 * Turns a {@link GenerateRequest} into a fully resolved {@link GenerationSpec}: unset fields take
 * the model's defaults, everything else is checked. Every failure is an {@link
 * IllegalArgumentException} whose message starts with the offending field's name.
 */
final class RequestMapper {
  private final AllowedRoots inputRoots;
  private final long maxReferenceBytes;
  private final int maxPromptChars;
  private final LongSupplier seeds;

  RequestMapper(
      AllowedRoots inputRoots, long maxReferenceBytes, int maxPromptChars, LongSupplier seeds) {
    this.inputRoots = inputRoots;
    this.maxReferenceBytes = maxReferenceBytes;
    this.maxPromptChars = maxPromptChars;
    this.seeds = seeds;
  }

  /**
   * A request id names the media file of URI delivery and appears in logs: 1 to 128 letters,
   * digits, '.', '_' or '-', and not "." or "..". Empty means "the worker picks one".
   */
  static void checkRequestId(String requestId) {
    if (requestId.isEmpty()) {
      return;
    }
    if (requestId.length() > 128
        || !requestId.matches("[A-Za-z0-9._-]+")
        || requestId.equals(".")
        || requestId.equals("..")) {
      throw new IllegalArgumentException(
          "request_id: must be 1 to 128 letters, digits, '.', '_' or '-' (and not '.' or '..'),"
              + " got '"
              + (requestId.length() > 40 ? requestId.substring(0, 40) + "..." : requestId)
                  .replaceAll("[^\\x20-\\x7e]", "?")
              + "'");
    }
  }

  GenerationSpec map(GenerateRequest request, Generator generator) {
    ModelManifest manifest = generator.pkg().manifest();
    long seed = request.hasSeed() ? request.getSeed() : seeds.getAsLong();
    if (request.getPrompt().isBlank()) {
      throw new IllegalArgumentException("prompt: must not be empty");
    }
    checkLength("prompt", request.getPrompt());
    checkLength("negative_prompt", request.getNegativePrompt());
    GenerationSpec.Builder spec = generator.defaults(request.getPrompt(), seed).toBuilder();
    spec.negativePrompt(request.getNegativePrompt());
    if (request.getSteps() != 0) {
      if (request.getSteps() < 1 || request.getSteps() > 1000) {
        throw new IllegalArgumentException("steps: must be in 1..1000, got " + request.getSteps());
      }
      spec.steps(request.getSteps());
    }
    if (request.hasGuidanceScale()) {
      if (!Float.isFinite(request.getGuidanceScale())) {
        throw new IllegalArgumentException("guidance_scale: must be finite");
      }
      spec.guidanceScale(request.getGuidanceScale());
    }
    if (request.getSampler() == dev.genloom.proto.v1.Sampler.UNRECOGNIZED) {
      throw new IllegalArgumentException("sampler: unknown value " + request.getSamplerValue());
    }
    if (request.getSampler() != dev.genloom.proto.v1.Sampler.SAMPLER_UNSPECIFIED) {
      spec.sampler(SamplerKind.fromProto(request.getSampler()).wireName());
    }
    if (request.hasGuidanceRescale()) {
      float rescale = request.getGuidanceRescale();
      if (!(rescale >= 0 && rescale <= 1)) {
        throw new IllegalArgumentException("guidance_rescale: must be in [0, 1], got " + rescale);
      }
      spec.guidanceRescale(rescale);
    }
    if (request.hasClipSkip()) {
      if (request.getClipSkip() < 0) {
        throw new IllegalArgumentException("clip_skip: must be >= 0, got " + request.getClipSkip());
      }
      spec.clipSkip(request.getClipSkip());
    }
    switch (request.getPromptOverflow()) {
      case PROMPT_OVERFLOW_UNSPECIFIED, PROMPT_OVERFLOW_TRUNCATE -> spec.refuseTruncation(false);
      case PROMPT_OVERFLOW_REFUSE -> spec.refuseTruncation(true);
      default ->
          throw new IllegalArgumentException(
              "prompt_overflow: unknown value " + request.getPromptOverflowValue());
    }
    if (request.hasEta()) {
      spec.eta(request.getEta());
    }
    if (request.hasStrength()) {
      spec.strength(request.getStrength());
    }
    size(request, manifest, spec);
    if (request.getNumFrames() != 0) {
      spec.numFrames(request.getNumFrames());
    }
    if (request.getFps() < 0) {
      throw new IllegalArgumentException("fps: must be >= 0");
    }
    spec.cache(CacheSpec.of(request.getCachePolicy(), "cache_policy"));
    ArSampling ar = request.getArSampling();
    if (ar.hasTemperature()) {
      spec.temperature(ar.getTemperature());
    }
    if (ar.hasTopK()) {
      spec.topK(ar.getTopK());
    }
    if (ar.hasTopP()) {
      spec.topP(ar.getTopP());
    }
    if (ar.hasCfgSchedule()) {
      spec.cfgSchedule(ar.getCfgSchedule());
    }
    if (request.getReferenceImagesCount() > 1) {
      throw new IllegalArgumentException(
          "reference_images: at most one reference image is supported");
    }
    if (request.getReferenceImagesCount() == 1) {
      spec.reference(Optional.of(reference(request.getReferenceImages(0))));
    }
    GenerationSpec built = spec.build();
    generator.validate(built);
    return built;
  }

  /** Width and height, or an aspect ratio resolved to the package's nearest bucket. */
  private static void size(
      GenerateRequest request, ModelManifest manifest, GenerationSpec.Builder spec) {
    boolean sized = request.getWidth() != 0 || request.getHeight() != 0;
    if (!request.getAspectRatio().isEmpty()) {
      if (sized) {
        throw new IllegalArgumentException(
            "aspect_ratio: set either aspect_ratio or width and height, not both");
      }
      Size bucket = ImageSizes.bucket(manifest, request.getAspectRatio());
      spec.size(bucket.getWidth(), bucket.getHeight());
      return;
    }
    if (!sized) {
      return;
    }
    if (request.getWidth() <= 0 || request.getHeight() <= 0) {
      throw new IllegalArgumentException("width: width and height must both be set and positive");
    }
    ImageSizes.check(manifest, request.getWidth(), request.getHeight());
    spec.size(request.getWidth(), request.getHeight());
  }

  private RgbImage reference(ReferenceImage image) {
    byte[] bytes;
    switch (image.getSourceCase()) {
      case DATA -> bytes = image.getData().toByteArray();
      case URI -> {
        Path file = inputRoots.existingFile("reference_images.uri", image.getUri());
        try {
          if (Files.size(file) > maxReferenceBytes) {
            throw new IllegalArgumentException(
                "reference_images: larger than the " + maxReferenceBytes + "-byte limit");
          }
          bytes = Files.readAllBytes(file);
        } catch (IOException e) {
          throw new IllegalArgumentException("reference_images.uri: cannot be read");
        }
      }
      default -> throw new IllegalArgumentException("reference_images: set data or uri");
    }
    if (bytes.length > maxReferenceBytes) {
      throw new IllegalArgumentException(
          "reference_images: "
              + bytes.length
              + " bytes is larger than the "
              + maxReferenceBytes
              + "-byte limit");
    }
    BufferedImage decoded;
    try (InputStream in = new ByteArrayInputStream(bytes)) {
      decoded = ImageIO.read(in);
    } catch (IOException | RuntimeException e) {
      decoded = null;
    }
    if (decoded == null) {
      throw new IllegalArgumentException("reference_images: cannot be decoded as PNG or JPEG");
    }
    return RgbImage.fromBufferedImage(decoded);
  }

  private void checkLength(String field, String text) {
    if (text.length() > maxPromptChars) {
      throw new IllegalArgumentException(
          field
              + ": "
              + text.length()
              + " characters, more than this worker accepts ("
              + maxPromptChars
              + ", --max-prompt-chars)");
    }
  }
}
