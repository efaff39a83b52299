package dev.genloom.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.generators.CacheSpec;
import dev.genloom.generators.GeneratedMedia;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.MediaFiles;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.CfgSchedule;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code genloom generate}: one image or video from a prompt, in this process. */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Generate one image (PNG) or video (MP4 plus a PNG contact sheet) from a prompt with a model"
          + " package, in this process through DJL PyTorch. Unset options take the package's"
          + " defaults (see 'genloom models')."
    })
final class GenerateCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(
      names = "--model",
      required = true,
      paramLabel = "NAME",
      description = "Model package name.")
  String model;

  @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "Text prompt.")
  String prompt;

  @Option(
      names = "--negative-prompt",
      paramLabel = "TEXT",
      description = "Negative prompt (default: empty).")
  String negativePrompt;

  @Option(
      names = "--reference",
      paramLabel = "IMG",
      description = "Reference image: image-to-image for latent diffusion, first frame for video.")
  Path reference;

  @Option(
      names = "--seed",
      paramLabel = "S",
      description = "Noise seed (default: ${DEFAULT-VALUE}).",
      defaultValue = "0")
  long seed;

  @Option(names = "--steps", paramLabel = "N", description = "Denoising steps, 1..1000.")
  Integer steps;

  @Option(names = "--guidance", paramLabel = "G", description = "Classifier-free guidance scale.")
  Float guidance;

  @Option(
      names = "--sampler",
      paramLabel = "NAME",
      description =
          "ddim, dpmpp2m, euler, euler_a or ar, built from the package's scheduler config.")
  String sampler;

  @Mixin SizeOptions size;

  @Option(
      names = "--guidance-rescale",
      paramLabel = "R",
      description = "Guidance rescale in [0, 1] (diffusers' guidance_rescale; 0 = off).")
  Float guidanceRescale;

  @Option(
      names = "--clip-skip",
      paramLabel = "N",
      description = "Skip the last N text-encoder layers (diffusers' clip_skip).")
  Integer clipSkip;

  @Option(
      names = "--refuse-long-prompts",
      description = "Refuse a prompt longer than the text encoder takes instead of truncating it.")
  boolean refuseLongPrompts;

  @Option(names = "--eta", paramLabel = "ETA", description = "DDIM eta (0 = deterministic).")
  Float eta;

  @Option(
      names = "--strength",
      paramLabel = "S",
      description = "Image-to-image strength in (0, 1].")
  Float strength;

  @Option(
      names = "--cache",
      paramLabel = "POLICY",
      description =
          "none; auto or auto:DELTA (calibrated block caching); fora:N; forecast:N or"
              + " forecast:N:ORDER (skipped blocks extrapolated, order 1 or 2); teacache:T;"
              + " budget:X (the"
              + " calibrated schedule of best measured PSNR within 1/X of the uncached block"
              + " evaluations); floor:psnr=P (the fastest calibrated schedule of at least P dB,"
              + " else none) (default: none).",
      defaultValue = "none")
  String cache;

  @Option(names = "--frames", paramLabel = "N", description = "Video frames.")
  Integer frames;

  @Option(names = "--temperature", paramLabel = "T", description = "AR sampling temperature.")
  Float temperature;

  @Option(names = "--top-k", paramLabel = "K", description = "AR top-k (0 = off).")
  Integer topK;

  @Option(names = "--top-p", paramLabel = "P", description = "AR nucleus threshold (1 = off).")
  Float topP;

  @Option(
      names = "--cfg-schedule",
      paramLabel = "SHAPE",
      description = "AR guidance across image tokens: constant or linear (rising from 1).")
  String cfgSchedule;

  @Option(
      names = "--device",
      paramLabel = "DEV",
      description = "cpu or gpu:N (default: ${DEFAULT-VALUE}).",
      defaultValue = "cpu")
  String device;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "FILE",
      description = "Output .png (image) or .mp4 (video).")
  Path out;

  @Option(names = "--json", description = "Print one JSON line with the settings and block counts.")
  boolean json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    ModelRepository repository = modelsOption.repository();
    ModelPackage pkg =
        repository
            .find(model)
            .orElseThrow(
                () ->
                    new UserException(
                        "model: unknown model '"
                            + model
                            + "' (available: "
                            + String.join(
                                ", ",
                                repository.packages().stream().map(ModelPackage::name).toList())
                            + ")"));
    if (steps != null && steps < 1) {
      throw new UserException("steps: must be >= 1, got " + steps);
    }
    Optional<dev.genloom.generators.RgbImage> referenceImage = Optional.empty();
    if (reference != null) {
      if (!Files.isReadable(reference)) {
        throw new UserException("reference: cannot read " + reference);
      }
      try {
        referenceImage = Optional.of(MediaFiles.readImage(reference));
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
    }
    try (Generator generator = Generators.open(pkg, Generators.device(device))) {
      GenerationSpec request;
      try {
        request = build(generator.defaults(prompt, seed), referenceImage, pkg);
        generator.validate(request);
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      String cachePolicy = generator.cacheChoice(request).description();
      GeneratedMedia media = generator.generate(List.of(request), (s, total, preview) -> {}).get(0);
      Path written = write(media);
      PrintWriter stdout = spec.commandLine().getOut();
      if (json) {
        ObjectNode line = new ObjectMapper().createObjectNode();
        line.put("model", model);
        line.put("seed", request.seed());
        line.put("steps", request.steps());
        line.put("sampler", request.sampler());
        line.put("width", request.width());
        line.put("height", request.height());
        line.put("truncated_tokens", media.truncatedTokens());
        line.put("cache", request.cache().toString());
        line.put("cache_policy", cachePolicy);
        line.put("wall_ms", media.computeMillis());
        line.put("block_evals", media.blockEvaluations());
        line.put("block_skips", media.blockSkips());
        line.put("out", written.toString());
        stdout.println(line);
      } else {
        if (media.truncatedTokens() > 0) {
          stdout.printf(
              Locale.ROOT,
              "%s: the prompt was longer than the text encoder takes; %d tokens were dropped"
                  + " (--refuse-long-prompts refuses instead)%n",
              model,
              media.truncatedTokens());
        }
        stdout.printf(
            Locale.ROOT,
            "%s: wrote %s (%dx%d, %s, %d steps, cache %s, %d ms, %d block evaluations, %d"
                + " skipped)%n",
            model,
            written,
            request.width(),
            request.height(),
            request.sampler(),
            request.steps(),
            cachePolicy,
            media.computeMillis(),
            media.blockEvaluations(),
            media.blockSkips());
      }
      stdout.flush();
      return 0;
    }
  }

  private GenerationSpec build(
      GenerationSpec defaults, Optional<dev.genloom.generators.RgbImage> ref, ModelPackage pkg) {
    GenerationSpec.Builder b = defaults.toBuilder().reference(ref).cache(CacheSpec.parse(cache));
    size.apply(b, pkg.manifest());
    if (guidanceRescale != null) {
      b.guidanceRescale(guidanceRescale);
    }
    if (clipSkip != null) {
      b.clipSkip(clipSkip);
    }
    b.refuseTruncation(refuseLongPrompts);
    if (negativePrompt != null) {
      b.negativePrompt(negativePrompt);
    }
    if (steps != null) {
      b.steps(steps);
    }
    if (guidance != null) {
      b.guidanceScale(guidance);
    }
    if (sampler != null) {
      b.sampler(sampler);
    }
    if (eta != null) {
      b.eta(eta);
    }
    if (strength != null) {
      b.strength(strength);
    }
    if (frames != null) {
      b.numFrames(frames);
    }
    if (temperature != null) {
      b.temperature(temperature);
    }
    if (topK != null) {
      b.topK(topK);
    }
    if (topP != null) {
      b.topP(topP);
    }
    if (cfgSchedule != null) {
      switch (cfgSchedule.toLowerCase(Locale.ROOT)) {
        case "constant" ->
            b.cfgSchedule(
                CfgSchedule.newBuilder().setShape(CfgSchedule.Shape.SHAPE_CONSTANT).build());
        case "linear" ->
            b.cfgSchedule(
                CfgSchedule.newBuilder()
                    .setShape(CfgSchedule.Shape.SHAPE_LINEAR)
                    .setStart(1f)
                    .build());
        default ->
            throw new IllegalArgumentException(
                "cfg-schedule: expected constant or linear, got '" + cfgSchedule + "'");
      }
    }
    return b.build();
  }

  private Path write(GeneratedMedia media) throws IOException {
    String name = out.getFileName().toString();
    if (media.isVideo()) {
      Path mp4 =
          name.toLowerCase(Locale.ROOT).endsWith(".mp4") ? out : out.resolveSibling(name + ".mp4");
      MediaFiles.writeMp4(media.frames(), media.fps(), mp4);
      String base = mp4.getFileName().toString().replaceFirst("(?i)\\.mp4$", "");
      MediaFiles.writePng(
          MediaFiles.contactSheet(media.frames()), mp4.resolveSibling(base + ".png"));
      return mp4;
    }
    Path png =
        name.toLowerCase(Locale.ROOT).endsWith(".png") ? out : out.resolveSibling(name + ".png");
    MediaFiles.writePng(media.frames().get(0), png);
    return png;
  }
}
