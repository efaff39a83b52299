package dev.genloom.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.bench.BenchModels;
import dev.genloom.bench.GeneratorBenchmark;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code genloom bench generators}: throughput, block caching against fewer steps, DiT caching and
 * Token-Shuffle decode time, each configuration measured side by side in one run (interleaved
 * repeats, medians).
 */
@Command(
    name = "generators",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Benchmark the generators on the shipped models: tiny-ldm images/s at batch 1 and 8; block"
          + " caching at each stored delta against the uncached run and against fewer steps at"
          + " equal compute (wall speedup, block evaluations saved, shapes-feature FD, alignment);"
          + " tiny-dit-video with FORA and TeaCache (alignment and motion); tiny-ar-s2 against"
          + " tiny-ar-s1 decode time."
    })
final class BenchGeneratorsCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(
      names = "--samples",
      paramLabel = "N",
      description = "Images per quality configuration (default: ${DEFAULT-VALUE}).",
      defaultValue = "200")
  int samples;

  @Option(
      names = "--video-samples",
      paramLabel = "N",
      description = "Videos per DiT configuration (default: ${DEFAULT-VALUE}).",
      defaultValue = "96")
  int videoSamples;

  @Option(
      names = "--repeats",
      paramLabel = "R",
      description = "Timing repeats per configuration (default: ${DEFAULT-VALUE}).",
      defaultValue = "5")
  int repeats;

  @Option(
      names = "--reference",
      paramLabel = "NPZ",
      description =
          "Real-image shapes-features statistics (default: the shipped models/shapes-features/reference_stats.npz).")
  Path reference;

  @Option(
      names = "--only",
      paramLabel = "PART",
      split = ",",
      description = "Parts to run: throughput, ldm-cache, dit-cache, ar, memory (default: all).")
  List<String> only;

  @Mixin BenchJsonOption json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    GeneratorBenchmark.Settings settings =
        new GeneratorBenchmark.Settings(
            samples,
            videoSamples,
            repeats,
            Set.copyOf(only == null ? GeneratorBenchmark.PARTS : only),
            BenchModels.SHIPPED,
            Home.orShipped(reference, "models/shapes-features/reference_stats.npz"),
            Home.resolve("examples/calibration-prompts.txt"),
            Home.resolve("examples/video-prompts.txt"));
    ObjectNode results = new GeneratorBenchmark(settings, out).run(modelsOption.repository());
    json.write(results, out);
    out.flush();
    return 0;
  }
}
