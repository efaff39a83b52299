package dev.genloom.generators;

import dev.genloom.proto.ProtoJson;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.GoldenFile;
import dev.genloom.proto.v1.ModelKind;
import dev.genloom.proto.v1.ModelManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A model package on disk: its folder and its parsed, checked {@code manifest.json}.
 *
 * <p>Opening a package checks that the manifest parses, names a kind, and that every file it refers
 * to stays inside the package folder, exists, and (for components) has the recorded SHA-256. Every
 * failure names the offending file. A component file is hashed once per file version ({@link
 * VerifiedFiles}); {@link #verify} hashes every file again.
 */
public final class ModelPackage {
  public static final String MANIFEST_FILE = "manifest.json";
  public static final String FORMAT = "genloom/v1";

  private final Path root;
  private final ModelManifest manifest;
  private final Map<String, Component> components;

  private ModelPackage(Path root, ModelManifest manifest, Map<String, Component> components) {
    this.root = root;
    this.manifest = manifest;
    this.components = components;
  }

  /**
   * Opens and checks the package in {@code folder}, taking the recorded hash of a component file
   * whose size and modification time have not changed since it was last hashed.
   */
  public static ModelPackage open(Path folder) {
    return open(folder, false);
  }

  /** Opens and checks the package in {@code folder}, hashing every component file again. */
  public static ModelPackage verify(Path folder) {
    return open(folder, true);
  }

  /** As {@link #open(Path)}, hashing every component file again when {@code rehash}. */
  public static ModelPackage open(Path folder, boolean rehash) {
    Path root = folder.toAbsolutePath().normalize();
    Path manifestFile = root.resolve(MANIFEST_FILE);
    if (!Files.isRegularFile(manifestFile)) {
      throw new ModelPackageException("model package has no manifest: " + manifestFile);
    }
    ModelManifest manifest;
    try {
      manifest = ProtoJson.readManifest(manifestFile);
    } catch (RuntimeException e) {
      throw new ModelPackageException(e.getMessage(), e);
    }
    if (!FORMAT.equals(manifest.getFormat())) {
      throw new ModelPackageException(
          manifestFile + ": format is '" + manifest.getFormat() + "', expected '" + FORMAT + "'");
    }
    if (manifest.getName().isEmpty()) {
      throw new ModelPackageException(manifestFile + ": name is empty");
    }
    if (manifest.getKind() == ModelKind.MODEL_KIND_UNSPECIFIED
        || manifest.getKind() == ModelKind.UNRECOGNIZED) {
      throw new ModelPackageException(manifestFile + ": kind is missing");
    }
    Map<String, Component> components = new LinkedHashMap<>();
    for (Component component : manifest.getComponentsList()) {
      Path file = resolveInside(root, component.getFile(), manifestFile);
      if (!Files.isRegularFile(file)) {
        throw new ModelPackageException(
            "component '" + component.getName() + "' file is missing: " + file);
      }
      if (!component.getSha256().isEmpty()) {
        String actual = VerifiedFiles.shared().sha256(file, rehash);
        if (!actual.equalsIgnoreCase(component.getSha256())) {
          throw new ModelPackageException(
              "component '"
                  + component.getName()
                  + "' is corrupt: "
                  + file
                  + " has SHA-256 "
                  + actual
                  + " but the manifest records "
                  + component.getSha256());
        }
      }
      if (components.put(component.getName(), component) != null) {
        throw new ModelPackageException(
            manifestFile + ": component '" + component.getName() + "' is listed twice");
      }
    }
    if (manifest.hasTokenizer()) {
      Path tokenizer = resolveInside(root, manifest.getTokenizer().getFile(), manifestFile);
      if (!Files.isRegularFile(tokenizer)) {
        throw new ModelPackageException("tokenizer file is missing: " + tokenizer);
      }
    }
    for (GoldenFile golden : manifest.getGoldensList()) {
      resolveInside(root, golden.getFile(), manifestFile);
    }
    return new ModelPackage(root, manifest, Map.copyOf(components));
  }

  /** Resolves a manifest-relative path, refusing absolute paths and paths that leave the root. */
  static Path resolveInside(Path root, String relative, Path manifestFile) {
    if (relative.isEmpty()) {
      throw new ModelPackageException(manifestFile + ": a file path is empty");
    }
    Path candidate = Path.of(relative);
    Path resolved = root.resolve(candidate).normalize();
    if (candidate.isAbsolute() || !resolved.startsWith(root)) {
      throw new ModelPackageException(
          manifestFile + ": path '" + relative + "' is outside the package folder");
    }
    return resolved;
  }

  public Path root() {
    return root;
  }

  public ModelManifest manifest() {
    return manifest;
  }

  public String name() {
    return manifest.getName();
  }

  public ModelKind kind() {
    return manifest.getKind();
  }

  /** The component with this name, if the manifest lists it. */
  public Optional<Component> component(String name) {
    return Optional.ofNullable(components.get(name));
  }

  /** The component's file, resolved inside the package. */
  public Path file(Component component) {
    return resolveInside(root, component.getFile(), root.resolve(MANIFEST_FILE));
  }

  /**
   * Replaces the package's manifest.json atomically with {@code updated} (same name and kind) and
   * returns the reopened package.
   */
  public ModelPackage writeManifest(ModelManifest updated) {
    if (!updated.getName().equals(manifest.getName()) || updated.getKind() != manifest.getKind()) {
      throw new IllegalArgumentException("a manifest update may not change the name or kind");
    }
    Path target = root.resolve(MANIFEST_FILE);
    Path temp = root.resolve(MANIFEST_FILE + ".tmp");
    try {
      Files.writeString(temp, ProtoJson.printManifest(updated) + "\n");
      Files.move(
          temp,
          target,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new ModelPackageException("cannot write " + target + ": " + e.getMessage(), e);
    }
    return open(root, false);
  }

  /** A manifest-relative path (tokenizer, goldens) resolved inside the package. */
  public Path resolve(String relative) {
    return resolveInside(root, relative, root.resolve(MANIFEST_FILE));
  }
}
