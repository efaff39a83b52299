package dev.genloom.generators;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/** The model packages found in one folder: every direct subfolder holding a manifest.json. */
public final class ModelRepository {
  private final Path folder;
  private final Map<String, ModelPackage> packages;

  private ModelRepository(Path folder, Map<String, ModelPackage> packages) {
    this.folder = folder;
    this.packages = packages;
  }

  /** Scans {@code folder}; any package that fails its checks fails the scan with its message. */
  public static ModelRepository scan(Path folder) {
    if (!Files.isDirectory(folder)) {
      throw new ModelPackageException("model folder does not exist: " + folder);
    }
    List<Path> candidates = new ArrayList<>();
    try (Stream<Path> children = Files.list(folder)) {
      children
          .filter(p -> Files.isRegularFile(p.resolve(ModelPackage.MANIFEST_FILE)))
          .sorted()
          .forEach(candidates::add);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list model folder " + folder, e);
    }
    Map<String, ModelPackage> packages = new LinkedHashMap<>();
    for (Path candidate : candidates) {
      ModelPackage pkg = ModelPackage.open(candidate);
      ModelPackage previous = packages.put(pkg.name(), pkg);
      if (previous != null) {
        throw new ModelPackageException(
            "two packages are named '"
                + pkg.name()
                + "': "
                + previous.root()
                + " and "
                + candidate);
      }
    }
    return new ModelRepository(folder, Collections.unmodifiableMap(packages));
  }

  public Path folder() {
    return folder;
  }

  public List<ModelPackage> packages() {
    return List.copyOf(packages.values());
  }

  public Optional<ModelPackage> find(String name) {
    return Optional.ofNullable(packages.get(name));
  }
}
