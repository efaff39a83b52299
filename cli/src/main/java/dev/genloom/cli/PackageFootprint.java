package dev.genloom.cli;

import dev.genloom.generators.ModelPackage;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.Precision;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** What {@code genloom models} says of a package's files: bytes on disk and weight precisions. */
final class PackageFootprint {
  private PackageFootprint() {}

  /**
   * Bytes of every regular file under the package folder, each once: a file that several components
   * name (methods of one module) counts once.
   */
  static long size(ModelPackage pkg) {
    // The real folder: a package linked into the models folder is measured, not the link.
    try (Stream<Path> files = Files.walk(pkg.root().toRealPath())) {
      return files
          .filter(Files::isRegularFile)
          .mapToLong(
              f -> {
                try {
                  return Files.size(f);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              })
          .sum();
    } catch (IOException | UncheckedIOException e) {
      throw new UserException("cannot measure " + pkg.root() + ": " + e.getMessage());
    }
  }

  /** "1.23 GB", "4.5 MB", "812 kB". */
  static String bytes(long n) {
    if (n >= 1_000_000_000L) {
      return String.format(Locale.ROOT, "%.2f GB", n / 1e9);
    }
    if (n >= 1_000_000L) {
      return String.format(Locale.ROOT, "%.1f MB", n / 1e6);
    }
    return String.format(Locale.ROOT, "%d kB", (n + 999) / 1000);
  }

  /** The components' precisions with counts, e.g. "fp16 (31 components), fp32 (4 components)". */
  static String precisions(ModelManifest manifest) {
    Map<String, Integer> counts = new TreeMap<>();
    for (Component c : manifest.getComponentsList()) {
      counts.merge(name(c.getPrecision()), 1, Integer::sum);
    }
    if (counts.isEmpty()) {
      return "no components";
    }
    return counts.entrySet().stream()
        .map(
            e ->
                e.getKey()
                    + " ("
                    + e.getValue()
                    + (e.getValue() == 1 ? " component)" : " components)"))
        .collect(Collectors.joining(", "));
  }

  static String name(Precision p) {
    return switch (p) {
      case PRECISION_FP16 -> "fp16";
      case PRECISION_BF16 -> "bf16";
      default -> "fp32";
    };
  }
}
