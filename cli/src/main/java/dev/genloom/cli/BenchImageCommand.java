package dev.genloom.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.evaluation.Statistics;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ProgressListener;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code genloom bench image}: seconds per image and peak resident memory of one model package at
 * one size, in this process: the package is loaded once, one untimed warm-up image runs, then each
 * repeat generates one image (text encoders, denoising loop with guidance, VAE decoder).
 */
@Command(
    name = "image",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Seconds per image and peak resident memory of one package at one size: load once, one"
          + " untimed warm-up, then --repeats timed images (median reported). Set"
          + " GENLOOM_TORCH_THREADS to the cores to use."
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

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
  Path json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    if (repeats < 1) {
      throw new UserException("repeats: must be >= 1, got " + repeats);
    }
    ModelPackage pkg =
        modelsOption
            .repository()
            .find(model)
            .orElseThrow(() -> new UserException("model: unknown model '" + model + "'"));
    PrintWriter out = spec.commandLine().getOut();
    long loadStart = System.nanoTime();
    try (Generator generator = Generators.open(pkg, Generators.device("cpu"))) {
      double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
      GenerationSpec.Builder b = generator.defaults(prompt, 0).toBuilder();
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
        generator.validate(settings);
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      out.printf(
          Locale.ROOT,
          "%s: loaded in %.1f s; %dx%d, %s, %d steps, guidance %s; warm-up...%n",
          model,
          loadSeconds,
          settings.width(),
          settings.height(),
          settings.sampler(),
          settings.steps(),
          settings.guidanceScale());
      out.flush();
      generator.generate(List.of(settings.withSeed(-1)), ProgressListener.NONE);
      double[] seconds = new double[repeats];
      for (int r = 0; r < repeats; r++) {
        long start = System.nanoTime();
        generator.generate(List.of(settings.withSeed(r)), ProgressListener.NONE);
        seconds[r] = (System.nanoTime() - start) / 1e9;
        out.printf(Locale.ROOT, "  image %d: %.2f s%n", r + 1, seconds[r]);
        out.flush();
      }
      double median = Statistics.median(seconds);
      long peakKib = PeakMemory.residentKib();
      out.printf(
          Locale.ROOT,
          "%s: median %.2f s per image over %d, peak resident memory %.2f GiB%n",
          model,
          median,
          repeats,
          peakKib / 1048576.0);
      if (json != null) {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("engine", "genloom");
        root.put("model", model);
        root.put("width", settings.width());
        root.put("height", settings.height());
        root.put("sampler", settings.sampler());
        root.put("steps", settings.steps());
        root.put("guidance_scale", settings.guidanceScale());
        root.put("threads", System.getProperty("ai.djl.pytorch.num_threads", ""));
        root.put("load_s", loadSeconds);
        ArrayNode list = root.putArray("seconds_per_image");
        Arrays.stream(seconds).forEach(list::add);
        root.put("median_s", median);
        root.put("peak_rss_kib", peakKib);
        Path parent = json.toAbsolutePath().getParent();
        if (parent != null) {
          Files.createDirectories(parent);
        }
        mapper.writerWithDefaultPrettyPrinter().writeValue(json.toFile(), root);
      }
      out.flush();
      return 0;
    }
  }

  /** This process's peak resident set size, from /proc/self/status (Linux). */
  static final class PeakMemory {
    private PeakMemory() {}

    static long residentKib() {
      try {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
          if (line.startsWith("VmHWM:")) {
            return Long.parseLong(line.replaceAll("[^0-9]", ""));
          }
        }
      } catch (IOException | NumberFormatException e) {
        throw new UserException("cannot read this process's peak memory: " + e.getMessage());
      }
      throw new UserException("/proc/self/status has no VmHWM line");
    }
  }
}
