package dev.genloom.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The shared {@code --models} option: where model packages live. */
final class ModelsOption {
  @Option(
      names = "--models",
      paramLabel = "DIR",
      description =
          "Folder of model packages (default: $GENLOOM_MODELS, else the shipped models folder).")
  Path models;

  /** Scans the folder; a missing folder or a broken package is the user's error, named. */
  dev.genloom.generators.ModelRepository repository() {
    try {
      return dev.genloom.generators.ModelRepository.scan(folder());
    } catch (dev.genloom.generators.ModelPackageException e) {
      throw new UserException(e.getMessage());
    }
  }

  Path folder() {
    if (models != null) {
      return models;
    }
    String env = System.getenv("GENLOOM_MODELS");
    return env == null || env.isBlank() ? Home.resolve("models") : Path.of(env);
  }
}
