package dev.genloom.workers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A models folder for tests that links the named shipped packages from the repository. */
final class ShippedModels {
  private ShippedModels() {}

  static Path folder(Path temp, String... names) throws IOException {
    Path folder = Files.createDirectories(temp.resolve("models"));
    for (String name : names) {
      Path shipped = Path.of("..", "models", name).toAbsolutePath().normalize();
      if (!Files.isDirectory(shipped)) {
        throw new IllegalStateException("models/" + name + " is not shipped");
      }
      if (!Files.exists(folder.resolve(name))) {
        Files.createSymbolicLink(folder.resolve(name), shipped);
      }
    }
    return folder;
  }
}
