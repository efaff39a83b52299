package dev.genloom.workers;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Folders a request may name files in. A path is accepted only when, after resolving {@code ..} and
 * symbolic links, it lies inside one of the roots.
 */
final class AllowedRoots {
  private final List<Path> roots;

  AllowedRoots(List<Path> roots) {
    this.roots =
        roots.stream()
            .map(
                root -> {
                  try {
                    return root.toRealPath();
                  } catch (IOException e) {
                    return root.toAbsolutePath().normalize();
                  }
                })
            .toList();
  }

  List<Path> roots() {
    return roots;
  }

  /**
   * Resolves a request's {@code file://} URI or plain path to an existing file inside the roots.
   *
   * @throws IllegalArgumentException naming {@code field} when it is outside, missing or malformed
   */
  Path existingFile(String field, String uriOrPath) {
    if (roots.isEmpty()) {
      throw new IllegalArgumentException(
          field + ": this worker accepts no file paths (no allowed roots)");
    }
    Path path;
    try {
      path = uriOrPath.startsWith("file:") ? Path.of(URI.create(uriOrPath)) : Path.of(uriOrPath);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(field + ": not a valid file URI or path");
    }
    if (!path.isAbsolute()) {
      throw new IllegalArgumentException(
          field + ": must be an absolute path inside an allowed root");
    }
    Path real;
    try {
      real = path.toRealPath();
    } catch (IOException e) {
      throw new IllegalArgumentException(field + ": no such file inside the allowed roots");
    }
    if (roots.stream().noneMatch(real::startsWith) || !Files.isRegularFile(real)) {
      throw new IllegalArgumentException(field + ": no such file inside the allowed roots");
    }
    return real;
  }

  /**
   * A relative output path under {@code root}: no absolute paths, no {@code ..}, and the result
   * stays inside after normalisation.
   */
  static Path outputPath(Path root, String relative, String field) {
    if (relative.isEmpty()) {
      return root;
    }
    Path candidate = Path.of(relative);
    if (candidate.isAbsolute() || relative.contains("..") || relative.contains("\\")) {
      throw new IllegalArgumentException(field + ": must be a relative path without '..'");
    }
    Path resolved = root.resolve(candidate).normalize();
    if (!resolved.startsWith(root)) {
      throw new IllegalArgumentException(field + ": leaves the output root");
    }
    return resolved;
  }
}
