package dev.genloom.cli;

import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelPackageException;
import dev.genloom.generators.ModelRepository;
import dev.genloom.generators.VerifiedFiles;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code genloom models verify}: hashes every component file of the packages again and compares it
 * with the manifest, whatever was recorded before ({@code genloom models} and workers hash a file
 * only when its size or modification time changed).
 */
@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    description = {
      "Hash every component file of the model packages again and compare with the SHA-256 their"
          + " manifests record. Exits 1 when any package is broken."
    })
final class VerifyCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @CommandLine.Parameters(
      paramLabel = "MODEL",
      arity = "0..*",
      description = "Package names (default: every package in the models folder).")
  List<String> names = List.of();

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ModelRepository.Survey survey;
    try {
      // Listing by name first (no hashing), then the full check of the packages asked for.
      survey = ModelRepository.survey(modelsOption.folder(), names.isEmpty());
    } catch (ModelPackageException e) {
      throw new UserException(e.getMessage());
    }
    int failed = 0;
    if (names.isEmpty()) {
      for (ModelPackage pkg : survey.repository().packages()) {
        out.printf(
            Locale.ROOT,
            "%-16s ok: %d component files hashed%n",
            pkg.name(),
            pkg.manifest().getComponentsCount());
      }
      for (ModelRepository.Broken broken : survey.broken()) {
        out.printf(
            Locale.ROOT, "%-16s BROKEN: %s%n", broken.folder().getFileName(), broken.reason());
        failed++;
      }
    } else {
      for (String name : names) {
        ModelPackage listed = survey.repository().find(name).orElse(null);
        if (listed == null) {
          String why =
              survey.broken().stream()
                  .filter(b -> b.folder().getFileName().toString().equals(name))
                  .map(ModelRepository.Broken::reason)
                  .findFirst()
                  .orElseThrow(() -> new UserException("model: unknown model '" + name + "'"));
          out.printf(Locale.ROOT, "%-16s BROKEN: %s%n", name, why);
          failed++;
          continue;
        }
        try {
          ModelPackage pkg = ModelPackage.verify(listed.root());
          out.printf(
              Locale.ROOT,
              "%-16s ok: %d component files hashed%n",
              pkg.name(),
              pkg.manifest().getComponentsCount());
        } catch (ModelPackageException e) {
          out.printf(Locale.ROOT, "%-16s BROKEN: %s%n", name, e.getMessage());
          failed++;
        }
      }
    }
    out.flush();
    if (failed > 0) {
      err.printf(Locale.ROOT, "genloom models verify: %d package(s) broken%n", failed);
      err.flush();
      return 1;
    }
    err.printf(
        Locale.ROOT,
        "genloom models verify: %d files hashed%n",
        VerifiedFiles.shared().filesHashed());
    err.flush();
    return 0;
  }
}
