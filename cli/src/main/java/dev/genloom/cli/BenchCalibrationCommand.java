package dev.genloom.cli;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.genloom.generators.CachePolicies;
import dev.genloom.generators.Calibration;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.ModelPackage;
import dev.genloom.proto.v1.CacheSchedule;
import dev.genloom.proto.v1.QualityFigure;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code genloom bench calibration}: a package's stored calibration table against the same figures
 * measured on prompts and seeds calibration did not see.
 */
@Command(
    name = "calibration",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "How well a package's stored block-caching calibration predicts fresh prompts: every stored"
          + " schedule for the sampler and step count is measured against uncached generation"
          + " on --prompts (the same noise, configurations interleaved batch by batch), and its"
          + " block-evaluation share, wall speedup, PSNR and SSIM are printed next to the"
          + " calibrated ones, with the differences."
    })
final class BenchCalibrationCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(names = "--model", required = true, paramLabel = "NAME", description = "Model package.")
  String model;

  @Option(
      names = "--sampler",
      required = true,
      paramLabel = "NAME",
      description = "Sampler the schedules are for (euler for a DiT video package).")
  String sampler;

  @Option(
      names = "--steps",
      required = true,
      paramLabel = "N",
      description = "Step count the schedules are for.")
  int steps;

  @Option(
      names = "--prompts",
      required = true,
      paramLabel = "FILE",
      description = "Fresh prompts, one per line (not the calibration prompts).")
  Path prompts;

  @Option(
      names = "--seeds",
      paramLabel = "K",
      description = "Seeds per prompt, from 1000 up (default: ${DEFAULT-VALUE}).",
      defaultValue = "2")
  int seeds;

  @Option(
      names = "--batch",
      paramLabel = "B",
      description = "Generations per batched forward (default: ${DEFAULT-VALUE}).",
      defaultValue = "8")
  int batch;

  @Option(
      names = "--device",
      paramLabel = "DEV",
      description = "cpu or gpu:N (default: ${DEFAULT-VALUE}).",
      defaultValue = "cpu")
  String device;

  @Mixin BenchJsonOption json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** One schedule's calibrated and measured figures. */
  record Row(
      @JsonProperty("delta") double delta,
      @JsonProperty("calibrated") Map<String, Double> calibrated,
      @JsonProperty("measured") Map<String, Double> measured) {}

  record Result(
      @JsonProperty("model") String model,
      @JsonProperty("sampler") String sampler,
      @JsonProperty("steps") int steps,
      @JsonProperty("prompts") int prompts,
      @JsonProperty("seeds") int seeds,
      @JsonProperty("rows") List<Row> rows) {}

  @Override
  public Integer call() throws IOException {
    if (seeds < 1 || batch < 1) {
      throw new UserException("seeds, batch: must be >= 1");
    }
    ModelPackage pkg =
        modelsOption
            .repository()
            .find(model)
            .orElseThrow(() -> new UserException("model: unknown model '" + model + "'"));
    List<String> lines = PromptLines.read(prompts);
    List<CacheSchedule> stored =
        pkg.manifest().getCacheSchedulesList().stream()
            .filter(s -> s.getSampler().equals(sampler) && s.getSteps() == steps)
            .toList();
    if (stored.isEmpty() || CachePolicies.figure(stored.get(0), Calibration.PSNR_DB).isEmpty()) {
      throw new UserException(
          "model: "
              + model
              + " stores no measured calibration for "
              + sampler
              + "/"
              + steps
              + "; run 'genloom models calibrate' first");
    }
    List<Double> deltas = stored.stream().map(CacheSchedule::getDelta).toList();
    PrintWriter out = spec.commandLine().getOut();
    int total = lines.size() * seeds * (deltas.size() + 1);
    Map<Double, List<QualityFigure>> measured;
    try (Generator generator = Generators.open(pkg, Generators.device(device))) {
      GenerationSpec settings;
      try {
        settings =
            generator.defaults(lines.get(0), 0).toBuilder().sampler(sampler).steps(steps).build();
        generator.validate(settings);
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      measured =
          Calibration.quality(
              generator,
              settings,
              lines,
              seeds,
              1000,
              batch,
              deltas,
              done -> {
                out.printf(Locale.ROOT, "\rmeasuring: %d/%d generations", done, total);
                out.flush();
              });
    }
    out.println();
    out.printf(
        Locale.ROOT,
        "%s %s/%d: calibrated (c) against measured on %d fresh prompts x %d seeds (m)%n",
        model,
        sampler,
        steps,
        lines.size(),
        seeds);
    out.printf(
        Locale.ROOT,
        "%6s %15s %15s %19s %19s%n",
        "delta",
        "share c / m",
        "speedup c / m",
        "PSNR dB c / m (d)",
        "SSIM c / m (d)");
    List<Row> rows = new ArrayList<>();
    for (CacheSchedule s : stored) {
      Map<String, Double> c = figures(s.getFiguresList());
      Map<String, Double> m = figures(measured.get(s.getDelta()));
      rows.add(new Row(s.getDelta(), c, m));
      out.printf(
          Locale.ROOT,
          "%6s %7.3f/%.3f %7.2fx/%.2fx %6.2f/%.2f (%+.2f) %6.4f/%.4f (%+.4f)%n",
          s.getDelta(),
          c.get(Calibration.BLOCK_EVAL_SHARE),
          m.get(Calibration.BLOCK_EVAL_SHARE),
          c.get(Calibration.WALL_SPEEDUP),
          m.get(Calibration.WALL_SPEEDUP),
          c.get(Calibration.PSNR_DB),
          m.get(Calibration.PSNR_DB),
          m.get(Calibration.PSNR_DB) - c.get(Calibration.PSNR_DB),
          c.get(Calibration.SSIM),
          m.get(Calibration.SSIM),
          m.get(Calibration.SSIM) - c.get(Calibration.SSIM));
    }
    json.write(new Result(model, sampler, steps, lines.size(), seeds, rows), out);
    out.flush();
    return 0;
  }

  private static Map<String, Double> figures(List<QualityFigure> figures) {
    Map<String, Double> map = new java.util.LinkedHashMap<>();
    for (QualityFigure f : figures) {
      map.put(f.getMetric(), f.getValue());
    }
    return map;
  }
}
