package dev.genloom.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The shared {@code --models} option: where model packages live. */
final class ModelsOption {
  @Option(
      names = "--models",
      paramLabel = "DIR",
      description = "Folder of model packages (default: $GENLOOM_MODELS, else ./models).")
  Path models;

  Path folder() {
    if (models != null) {
      return models;
    }
    String env = System.getenv("GENLOOM_MODELS");
    return Path.of(env == null || env.isBlank() ? "models" : env);
  }
}
