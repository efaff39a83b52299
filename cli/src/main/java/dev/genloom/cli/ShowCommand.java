package dev.genloom.cli;

import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelPackageException;
import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.ModelManifest;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code genloom models show MODEL}: one package's manifest, as a person reads it. */
@Command(
    name = "show",
    mixinStandardHelpOptions = true,
    description = {
      "Show one model package: kind, sizes, components with their files and precision, recorded"
          + " quality, and the calibrated block-caching schedules with what calibration measured"
          + " for each (block-evaluation share, wall speedup, PSNR and SSIM against uncached)."
    })
final class ShowCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @CommandLine.Parameters(paramLabel = "MODEL", description = "Package name.")
  String model;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    ModelPackage pkg;
    try {
      ModelRepository repository = ModelRepository.scan(modelsOption.folder());
      pkg =
          repository
              .find(model)
              .orElseThrow(
                  () ->
                      new UserException(
                          "model: no package '"
                              + model
                              + "' in "
                              + repository.folder()
                              + " ('genloom models' lists them)"));
    } catch (ModelPackageException e) {
      throw new UserException(e.getMessage());
    }
    ModelManifest manifest = pkg.manifest();
    PrintWriter out = spec.commandLine().getOut();
    out.printf(Locale.ROOT, "%s %s%n", manifest.getName(), manifest.getVersion());
    out.printf(
        Locale.ROOT,
        "  kind: %s%n",
        manifest.getKind().name().replace("MODEL_KIND_", "").toLowerCase(Locale.ROOT));
    if (!manifest.getDescription().isEmpty()) {
      out.printf(Locale.ROOT, "  %s%n", manifest.getDescription());
    }
    out.printf(Locale.ROOT, "  sizes: %s%n", ModelsCommand.sizes(manifest));
    out.printf(
        Locale.ROOT,
        "  on disk: %s; weights: %s%n",
        PackageFootprint.bytes(PackageFootprint.size(pkg)),
        PackageFootprint.precisions(manifest));
    out.println("  components:");
    for (Component c : manifest.getComponentsList()) {
      out.printf(
          Locale.ROOT,
          "    %-28s %-40s %s%n",
          c.getName(),
          c.getMethod().isEmpty() ? c.getFile() : c.getFile() + " (method " + c.getMethod() + ")",
          c.getPrecision() == dev.genloom.proto.v1.Precision.PRECISION_UNSPECIFIED
              ? "fp32"
              : c.getPrecision().name().replace("PRECISION_", "").toLowerCase(Locale.ROOT));
    }
    if (manifest.getQualityCount() > 0) {
      out.println("  quality:");
      ModelsCommand.printQuality(manifest, "    ", out);
    }
    if (manifest.getCacheSchedulesCount() == 0) {
      out.println("  block caching: no calibrated schedules ('genloom models calibrate')");
    } else {
      out.println("  block caching, calibrated against uncached:");
      ScheduleTable.print(manifest, null, 0, out);
    }
    out.flush();
    return 0;
  }
}
