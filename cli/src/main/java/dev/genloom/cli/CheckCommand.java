package dev.genloom.cli;

import ai.djl.Device;
import dev.genloom.generators.Generators;
import dev.genloom.generators.GoldenCheck;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelPackageException;
import dev.genloom.generators.ModelRepository;
import dev.genloom.generators.SamplingCheck;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code genloom models check}: a package's conformance with the golden tensors recorded when it
 * was exported: every component on its recorded inputs, and for latent diffusion every recorded
 * sampling run replayed through the whole Java loop (for packages exported from diffusers, runs of
 * diffusers' own schedulers and models, and the token ids of its tokenizers).
 */
@Command(
    name = "check",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Check model packages against their recorded goldens: each TorchScript component, and each"
          + " recorded sampling run replayed through the Java runtime (tokenizers, text encoders,"
          + " sampler, guidance, UNet blocks, VAE). Exits 1 when any check fails."
    })
final class CheckCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @CommandLine.Parameters(
      paramLabel = "MODEL",
      arity = "0..*",
      description = "Package names (default: every package in the models folder).")
  List<String> names = List.of();

  @Option(
      names = "--component-tolerance",
      paramLabel = "T",
      description = "Max abs error allowed for a component (default: ${DEFAULT-VALUE}).",
      defaultValue = "1e-4")
  double componentTolerance;

  @Option(
      names = "--latent-tolerance",
      paramLabel = "T",
      description =
          "Max abs error allowed for a sampling run's final latents (default: ${DEFAULT-VALUE}).",
      defaultValue = "1e-4")
  double latentTolerance;

  @Option(
      names = "--pixel-tolerance",
      paramLabel = "T",
      description =
          "Max abs error allowed for a sampling run's decoded pixels (default: ${DEFAULT-VALUE}).",
      defaultValue = "1e-3")
  double pixelTolerance;

  @Option(
      names = "--device",
      paramLabel = "DEV",
      description = "cpu or gpu:N (default: ${DEFAULT-VALUE}).",
      defaultValue = "cpu")
  String device;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    ModelRepository repository = modelsOption.repository();
    List<ModelPackage> packages =
        names.isEmpty()
            ? repository.packages()
            : names.stream()
                .map(
                    name ->
                        repository
                            .find(name)
                            .orElseThrow(
                                () ->
                                    new UserException(
                                        "model: unknown model '"
                                            + name
                                            + "' in "
                                            + repository.folder())))
                .toList();
    Device dev = Generators.device(device);
    PrintWriter out = spec.commandLine().getOut();
    int failed = 0;
    for (ModelPackage pkg : packages) {
      try {
        failed += check(pkg, dev, out);
      } catch (ModelPackageException | IllegalArgumentException e) {
        out.printf(Locale.ROOT, "%s: FAILED %s%n", pkg.name(), e.getMessage());
        failed++;
      }
      out.flush();
    }
    out.printf(
        Locale.ROOT,
        "%d package(s) checked, %s%n",
        packages.size(),
        failed == 0 ? "all checks passed" : failed + " check(s) failed");
    out.flush();
    return failed == 0 ? 0 : 1;
  }

  private int check(ModelPackage pkg, Device dev, PrintWriter out) {
    int failed = 0;
    List<GoldenCheck.Result> components = GoldenCheck.checkComponents(pkg, dev);
    double worst = 0;
    for (GoldenCheck.Result r : components) {
      worst = Math.max(worst, r.maxAbsError());
      if (!r.passes(componentTolerance)) {
        out.printf(
            Locale.ROOT,
            "%s: FAILED component %s differs by %.3g (> %.2g)%n",
            pkg.name(),
            r.component(),
            r.maxAbsError(),
            r.allowed(componentTolerance));
        failed++;
      }
    }
    out.printf(
        Locale.ROOT,
        "%s: %d components match their goldens (worst max abs error %.2e)%n",
        pkg.name(),
        components.size(),
        worst);
    for (SamplingCheck.Result r : SamplingCheck.check(pkg, dev)) {
      boolean ok = r.passes(latentTolerance, pixelTolerance);
      out.printf(
          Locale.ROOT,
          "%s: %s %s: final latents %.2e, pixels %.2e, timesteps %.1e, token ids %s%n",
          pkg.name(),
          ok ? "ok" : "FAILED",
          r.subject(),
          r.latentError(),
          r.pixelError(),
          r.timestepError(),
          r.tokenIdsMatch() ? "equal" : "DIFFER");
      if (!ok) {
        failed++;
      }
    }
    return failed;
  }
}
