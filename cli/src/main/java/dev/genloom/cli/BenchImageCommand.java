package dev.genloom.cli;

import dev.genloom.bench.ImageBenchmark;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.ModelPackage;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code genloom bench image}: the options of {@link ImageBenchmark}. */
@Command(
    name = "image",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Seconds per image and peak resident memory of one package at one size: open it (and"
          + " with --preload load every component, timed), one untimed warm-up, then --repeats"
          + " timed images (median reported). Set GENLOOM_TORCH_THREADS to the cores to use."
    })
final class BenchImageCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(names = "--model", required = true, paramLabel = "NAME", description = "Model package.")
  String model;

  @Mixin SizeOptions size;

  @Option(names = "--steps", paramLabel = "N", description = "Denoising steps.")
  Integer steps;

  @Option(
      names = "--sampler",
      paramLabel = "NAME",
      description = "ddim, dpmpp2m, euler or euler_a.")
  String sampler;

  @Option(names = "--guidance", paramLabel = "G", description = "Guidance scale.")
  Float guidance;

  @Option(
      names = "--prompt",
      paramLabel = "TEXT",
      description = "Prompt (default: ${DEFAULT-VALUE}).",
      defaultValue = "a photograph of an astronaut riding a horse")
  String prompt;

  @Option(
      names = "--repeats",
      paramLabel = "N",
      description = "Timed images (default: ${DEFAULT-VALUE}).",
      defaultValue = "3")
  int repeats;

  @Option(
      names = "--warmup-steps",
      paramLabel = "N",
      description = "Steps of the untimed warm-up image (default: --steps).")
  Integer warmupSteps;

  @Option(
      names = "--device",
      paramLabel = "DEV",
      description = "cpu or gpu:N (default: ${DEFAULT-VALUE}).",
      defaultValue = "cpu")
  String device;

  @Option(
      names = "--preload",
      description =
          "Load every component before the warm-up and time it (default: components load when"
              + " the warm-up first needs them, as a worker serves).")
  boolean preload;

  @Mixin BenchJsonOption json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    if (repeats < 1) {
      throw new UserException("repeats: must be >= 1, got " + repeats);
    }
    if (warmupSteps != null && warmupSteps < 1) {
      throw new UserException("warmup-steps: must be >= 1, got " + warmupSteps);
    }
    ModelPackage pkg =
        modelsOption
            .repository()
            .find(model)
            .orElseThrow(() -> new UserException("model: unknown model '" + model + "'"));
    PrintWriter out = spec.commandLine().getOut();
    ImageBenchmark loaded;
    try {
      loaded = ImageBenchmark.load(pkg, device, preload);
    } catch (IllegalArgumentException e) {
      throw new UserException(e.getMessage());
    }
    try (ImageBenchmark bench = loaded) {
      GenerationSpec.Builder b = bench.generator().defaults(prompt, 0).toBuilder();
      if (steps != null) {
        b.steps(steps);
      }
      if (sampler != null) {
        b.sampler(sampler);
      }
      if (guidance != null) {
        b.guidanceScale(guidance);
      }
      GenerationSpec settings;
      try {
        size.apply(b, pkg.manifest());
        settings = b.build();
        bench.generator().validate(settings);
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      int warmup = warmupSteps != null ? warmupSteps : settings.steps();
      ImageBenchmark.Result result = bench.measure(settings, warmup, repeats, out);
      json.write(result, out);
      out.flush();
      return 0;
    }
  }
}
