package dev.genloom.cli;

import dev.genloom.generators.Calibratable;
import dev.genloom.generators.Calibration;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelPackageException;
import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.CacheSchedule;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.QualityFigure;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code genloom models calibrate}: derives block-caching schedules and stores them in the package.
 */
@Command(
    name = "calibrate",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Calibrate block caching (Wimbauer et al., CVPR 2024) for one sampler and step count:"
          + " uncached generations over a prompt set record each block's relative L1 output"
          + " change per step; one schedule per delta is derived (recompute a block when the"
          + " change accumulated since its last computation exceeds delta) and stored in the"
          + " package's manifest.json. 'cache auto' then uses the default delta. Each schedule is"
          + " then measured against uncached generation of the same prompts and seeds, and the"
          + " table is stored for 'cache budget:X' and 'cache floor:psnr=P'."
    })
final class CalibrateCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(names = "--model", required = true, paramLabel = "NAME", description = "Model package.")
  String model;

  @Option(
      names = "--sampler",
      required = true,
      paramLabel = "NAME",
      description = "ddim, dpmpp2m, euler or euler_a.")
  String sampler;

  @Option(
      names = "--steps",
      required = true,
      paramLabel = "N",
      description = "Step count the schedule is for.")
  int steps;

  @Option(
      names = "--prompts",
      paramLabel = "FILE",
      description =
          "Calibration prompts, one per line (default: the shipped examples/calibration-prompts.txt).")
  Path prompts;

  @Option(
      names = "--seeds",
      paramLabel = "K",
      description = "Seeds per prompt (default: ${DEFAULT-VALUE}).",
      defaultValue = "2")
  int seeds;

  @Option(
      names = "--deltas",
      paramLabel = "D,...",
      split = ",",
      description = "Thresholds to store schedules for (default: ${DEFAULT-VALUE}).",
      defaultValue = "0.05,0.1,0.2,0.3,0.5,0.8")
  List<Double> deltas;

  @Option(
      names = "--default-delta",
      paramLabel = "D",
      description =
          "Delta that 'cache auto' uses; choose it with 'genloom bench generators' (default: ${DEFAULT-VALUE}).",
      defaultValue = "0.2")
  double defaultDelta;

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

  @Option(
      names = "--quality",
      negatable = true,
      description =
          "Measure each schedule against uncached generations of the same prompts and seeds"
              + " (block-evaluation share, wall speedup, PSNR, SSIM) and store the table, which"
              + " 'cache budget:X' and 'cache floor:psnr=P' pick from (default: on;"
              + " --no-quality skips it).",
      defaultValue = "true",
      fallbackValue = "true")
  boolean quality;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    ModelPackage pkg;
    try {
      pkg =
          ModelRepository.scan(modelsOption.folder())
              .find(model)
              .orElseThrow(() -> new UserException("model: unknown model '" + model + "'"));
    } catch (ModelPackageException e) {
      throw new UserException(e.getMessage());
    }
    Path prompts = Home.orShipped(this.prompts, "examples/calibration-prompts.txt");
    List<String> lines = PromptLines.read(prompts);
    try {
      sampler = dev.genloom.proto.SamplerNames.name(dev.genloom.proto.SamplerNames.parse(sampler));
    } catch (IllegalArgumentException e) {
      throw new UserException(e.getMessage());
    }
    PrintWriter out = spec.commandLine().getOut();
    try (Generator generator = Generators.open(pkg, Generators.device(device))) {
      if (!(generator instanceof Calibratable calibratable)) {
        throw new UserException("model: " + model + " has no denoiser blocks to calibrate");
      }
      GenerationSpec settings;
      try {
        settings =
            generator.defaults(lines.get(0), 0).toBuilder().sampler(sampler).steps(steps).build();
        generator.validate(settings);
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      int total = lines.size() * seeds;
      long start = System.nanoTime();
      Map<String, double[]> changes =
          Calibration.measure(
              calibratable,
              settings,
              lines,
              seeds,
              batch,
              done -> {
                out.printf(Locale.ROOT, "\rcalibrating: %d/%d generations", done, total);
                out.flush();
              });
      out.printf(
          Locale.ROOT,
          "%ncalibrated on %d generations in %.1f s%n",
          total,
          (System.nanoTime() - start) / 1e9);
      ModelManifest updated =
          Calibration.withSchedules(pkg.manifest(), sampler, steps, deltas, defaultDelta, changes);
      pkg.writeManifest(updated);
      for (CacheSchedule schedule : updated.getCacheSchedulesList()) {
        if (schedule.getSampler().equals(sampler) && schedule.getSteps() == steps) {
          out.printf(
              Locale.ROOT,
              "  delta %-5s skips %5.1f%% of cacheable block evaluations%s%n",
              schedule.getDelta(),
              100 * Calibration.skippedFraction(schedule),
              schedule.getIsDefault() ? "  (default for cache auto)" : "");
        }
      }
      out.flush();
    }
    if (quality) {
      measureQuality(lines, out);
    }
    out.println("wrote " + pkg.root().resolve(ModelPackage.MANIFEST_FILE));
    out.flush();
    return 0;
  }

  /**
   * Runs the calibration set uncached and with each stored schedule, on the package as just
   * written, and stores each schedule's measured share, speedup, PSNR and SSIM.
   */
  private void measureQuality(List<String> lines, PrintWriter out) {
    ModelPackage pkg =
        ModelRepository.scan(modelsOption.folder())
            .find(model)
            .orElseThrow(() -> new UserException("model: '" + model + "' vanished"));
    int total = lines.size() * seeds * (deltas.size() + 1);
    long start = System.nanoTime();
    try (Generator generator = Generators.open(pkg, Generators.device(device))) {
      GenerationSpec settings =
          generator.defaults(lines.get(0), 0).toBuilder().sampler(sampler).steps(steps).build();
      Map<Double, List<QualityFigure>> figures =
          Calibration.quality(
              generator,
              settings,
              lines,
              seeds,
              0,
              batch,
              deltas,
              done -> {
                out.printf(Locale.ROOT, "\rmeasuring quality: %d/%d generations", done, total);
                out.flush();
              });
      out.printf(
          Locale.ROOT,
          "%nmeasured against uncached in %.1f s%n",
          (System.nanoTime() - start) / 1e9);
      ModelManifest updated = Calibration.withQuality(pkg.manifest(), sampler, steps, figures);
      pkg.writeManifest(updated);
      ScheduleTable.print(updated, sampler, steps, out);
    }
  }
}
