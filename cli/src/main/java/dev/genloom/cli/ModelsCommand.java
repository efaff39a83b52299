package dev.genloom.cli;

import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.QualityFigure;
import java.io.PrintWriter;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code genloom models}: lists the model packages and what their manifests record. */
@Command(
    name = "models",
    mixinStandardHelpOptions = true,
    subcommands = {
      ShowCommand.class,
      CalibrateCommand.class,
      CheckCommand.class,
      VerifyCommand.class
    },
    description =
        "List the model packages in the models folder, with kind, components, size, weight"
            + " precision and quality. A component file is hashed when it is new or changed;"
            + " 'genloom models verify' hashes every file again.")
final class ModelsCommand implements java.util.concurrent.Callable<Integer> {
  @Mixin ModelsOption modelsOption;
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** Lists the good packages and flags each broken one; exits 1 when any is broken. */
  @Override
  public Integer call() {
    ModelRepository.Survey survey;
    try {
      survey = ModelRepository.survey(modelsOption.folder());
    } catch (dev.genloom.generators.ModelPackageException e) {
      throw new UserException(e.getMessage());
    }
    ModelRepository repository = survey.repository();
    PrintWriter out = spec.commandLine().getOut();
    if (repository.packages().isEmpty() && survey.broken().isEmpty()) {
      out.println("No model packages in " + repository.folder() + ".");
      out.flush();
      return 0;
    }
    list(repository, out);
    for (ModelRepository.Broken broken : survey.broken()) {
      out.printf(Locale.ROOT, "%-16s BROKEN: %s%n", broken.folder().getFileName(), broken.reason());
    }
    out.flush();
    if (!survey.broken().isEmpty()) {
      PrintWriter err = spec.commandLine().getErr();
      err.printf(
          Locale.ROOT,
          "genloom models: %d package(s) broken; workers refuse to start on this folder until"
              + " they are fixed or removed%n",
          survey.broken().size());
      err.flush();
      return 1;
    }
    return 0;
  }

  private static void list(ModelRepository repository, PrintWriter out) {
    for (ModelPackage pkg : repository.packages()) {
      var manifest = pkg.manifest();
      int files = pkg.componentFiles().size();
      out.printf(
          Locale.ROOT,
          "%-16s %-28s %2d components%s%n",
          pkg.name(),
          manifest.getKind().name().replace("MODEL_KIND_", "").toLowerCase(Locale.ROOT),
          manifest.getComponentsCount(),
          // Components sharing a file run methods of one module, its weights stored once.
          files < manifest.getComponentsCount() ? " in " + files + " files" : "");
      out.printf(Locale.ROOT, "    sizes: %s%n", sizes(manifest));
      out.printf(
          Locale.ROOT,
          "    on disk: %s; weights: %s%n",
          PackageFootprint.bytes(PackageFootprint.size(pkg)),
          PackageFootprint.precisions(manifest));
      printQuality(manifest, "    ", out);
    }
  }

  /** The package's recorded quality figures, one per line after {@code indent}. */
  static void printQuality(
      dev.genloom.proto.v1.ModelManifest manifest, String indent, PrintWriter out) {
    for (QualityFigure figure : manifest.getQualityList()) {
      out.printf(
          Locale.ROOT,
          "%s%-36s %10.4f  (n=%d; %s)%n",
          indent,
          figure.getMetric(),
          figure.getValue(),
          figure.getSamples(),
          figure.getSetting());
    }
  }

  /** The sizes a package serves, as 'genloom models' lists them. */
  static String sizes(dev.genloom.proto.v1.ModelManifest manifest) {
    var c = manifest.getSizeConstraint();
    if (c.getMultipleOf() > 0) {
      String range =
          String.format(
              Locale.ROOT,
              "any multiple of %d px, %d..%d wide, %d..%d high (default %dx%d)",
              c.getMultipleOf(),
              c.getMinWidth(),
              c.getMaxWidth(),
              c.getMinHeight(),
              c.getMaxHeight(),
              manifest.getDefaults().getWidth(),
              manifest.getDefaults().getHeight());
      if (c.getBucketsCount() > 0) {
        range +=
            "; aspect-ratio buckets "
                + String.join(
                    ", ",
                    c.getBucketsList().stream()
                        .map(b -> b.getWidth() + "x" + b.getHeight())
                        .toList());
      }
      return range;
    }
    if (manifest.getSupportedSizesCount() > 0) {
      return String.join(
          ", ",
          manifest.getSupportedSizesList().stream()
              .map(s -> s.getWidth() + "x" + s.getHeight())
              .toList());
    }
    return manifest.getDefaults().getWidth() > 0
        ? manifest.getDefaults().getWidth() + "x" + manifest.getDefaults().getHeight()
        : "fixed by the model";
  }
}
