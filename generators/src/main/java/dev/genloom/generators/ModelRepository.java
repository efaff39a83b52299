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

  /** A package folder that failed its checks, with the reason. */
  public record Broken(Path folder, String reason) {}

  /** A folder's packages: the good ones as a repository, and the broken ones with reasons. */
  public record Survey(ModelRepository repository, List<Broken> broken) {}

  /**
   * Scans {@code folder} as {@link #scan} does, but keeps going past a broken package: for listing,
   * where one bad checksum should not hide the good packages.
   */
  public static Survey survey(Path folder) {
    return survey(folder, false);
  }

  /**
   * As {@link #survey(Path)}; when {@code rehash}, every component file is hashed again ({@link
   * ModelPackage#verify}).
   */
  public static Survey survey(Path folder, boolean rehash) {
    List<Path> candidates = candidates(folder);
    Map<String, ModelPackage> packages = new LinkedHashMap<>();
    List<Broken> broken = new ArrayList<>();
    for (Path candidate : candidates) {
      try {
        ModelPackage pkg = ModelPackage.open(candidate, rehash);
        ModelPackage previous = packages.putIfAbsent(pkg.name(), pkg);
        if (previous != null) {
          broken.add(
              new Broken(
                  candidate,
                  "two packages are named '"
                      + pkg.name()
                      + "': "
                      + previous.root()
                      + " and "
                      + candidate));
        }
      } catch (ModelPackageException | UncheckedIOException e) {
        broken.add(new Broken(candidate, e.getMessage()));
      }
    }
    return new Survey(
        new ModelRepository(folder, Collections.unmodifiableMap(packages)), List.copyOf(broken));
  }

  private static List<Path> candidates(Path folder) {
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
    return candidates;
  }

  /** Scans {@code folder}; any package that fails its checks fails the scan with its message. */
  public static ModelRepository scan(Path folder) {
    Survey survey = survey(folder);
    if (!survey.broken().isEmpty()) {
      throw new ModelPackageException(survey.broken().get(0).reason());
    }
    return survey.repository();
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
