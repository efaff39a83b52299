package dev.genloom.cli;

import dev.genloom.bench.CacheBenchmark;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code genloom bench cache}: the options of {@link CacheBenchmark}. */
@Command(
    name = "cache",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Block caching on one package: each cache policy against the uncached run on the same"
          + " prompts and seeds, rounds interleaved in one process. Reports block evaluations"
          + " skipped, median wall time and speedup, and PSNR against the uncached images (on a"
          + " random-weight fixture a mechanics check, not quality). An auto policy calibrates a"
          + " temporary copy of the package first."
    })
final class BenchCacheCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(names = "--model", required = true, paramLabel = "NAME", description = "Model package.")
  String model;

  @Option(
      names = "--sampler",
      paramLabel = "NAME",
      description = "Sampler (default: ${DEFAULT-VALUE}).",
      defaultValue = "euler")
  String sampler;

  @Option(
      names = "--steps",
      paramLabel = "N",
      description = "Denoising steps (default: ${DEFAULT-VALUE}).",
      defaultValue = "20")
  int steps;

  @Option(
      names = "--width",
      paramLabel = "W",
      description = "Image width (default: the package's).",
      defaultValue = "0")
  int width;

  @Option(
      names = "--height",
      paramLabel = "H",
      description = "Image height (default: the package's).",
      defaultValue = "0")
  int height;

  @Option(
      names = "--policies",
      paramLabel = "P,...",
      split = ",",
      description = "Cache policies, none first (default: ${DEFAULT-VALUE}).",
      defaultValue = "none,fora:2,fora:3,teacache:0.2,teacache:0.5,auto")
  List<String> policies;

  @Option(
      names = "--deltas",
      paramLabel = "D,...",
      split = ",",
      description = "Deltas calibrated for auto (default: ${DEFAULT-VALUE}).",
      defaultValue = "0.1,0.3,0.5")
  List<Double> deltas;

  @Option(
      names = "--default-delta",
      paramLabel = "D",
      description = "The delta plain auto uses (default: ${DEFAULT-VALUE}).",
      defaultValue = "0.3")
  double defaultDelta;

  @Option(
      names = "--samples",
      paramLabel = "N",
      description = "Images per policy and round (default: ${DEFAULT-VALUE}).",
      defaultValue = "16")
  int samples;

  @Option(
      names = "--repeats",
      paramLabel = "R",
      description = "Timed rounds (default: ${DEFAULT-VALUE}).",
      defaultValue = "5")
  int repeats;

  @Option(
      names = "--prompts",
      paramLabel = "FILE",
      description = "Prompts (default: the shipped examples/calibration-prompts.txt).")
  Path prompts;

  @Mixin BenchJsonOption json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    CacheBenchmark.Settings settings =
        new CacheBenchmark.Settings(
            model,
            sampler,
            steps,
            width,
            height,
            policies,
            deltas,
            defaultDelta,
            samples,
            repeats,
            Home.orShipped(prompts, "examples/calibration-prompts.txt"));
    CacheBenchmark.Result result = new CacheBenchmark(settings, out).run(modelsOption.repository());
    json.write(result, out);
    out.flush();
    return 0;
  }
}
