package dev.genloom.cli;

import dev.genloom.pipelines.GeneratePipeline;
import java.nio.file.Path;

/**
 * Paths as the user means them: relative to the folder the command was run from. A local path is
 * made absolute before it reaches Beam, whose runners may resolve it in another process or on
 * another machine; a URI ({@code gs://...}) is passed as written.
 */
final class UserPaths {
  private UserPaths() {}

  static String absolute(String spec) {
    if (spec == null || spec.isBlank() || !GeneratePipeline.isLocal(spec)) {
      return spec;
    }
    return Path.of(spec).toAbsolutePath().normalize().toString();
  }
}
