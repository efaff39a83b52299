package dev.genloom.generators;

import dev.genloom.proto.ProtoJson;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.GoldenFile;
import dev.genloom.proto.v1.ModelKind;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.Precision;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A model package on disk: its folder and its parsed, checked {@code manifest.json}.
 *
 * <p>Opening a package checks that the manifest parses, names a kind, and that every file it refers
 * to stays inside the package folder, exists, and (for components) has the recorded SHA-256. Every
 * failure names the offending file. A component file is hashed once per file version ({@link
 * VerifiedFiles}); {@link #verify} hashes every file again. Components naming the same file share
 * it: they must record the same SHA-256 and precision and run different methods, and the file is
 * hashed once.
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
    Map<Path, Component> firstByFile = new HashMap<>();
    for (Component component : manifest.getComponentsList()) {
      checkMethodName(component, manifestFile);
      Path file = resolveInside(root, component.getFile(), manifestFile);
      if (!Files.isRegularFile(file)) {
        throw new ModelPackageException(
            "component '" + component.getName() + "' file is missing: " + file);
      }
      Component sharing = firstByFile.putIfAbsent(file, component);
      if (sharing != null) {
        // The file was checked with the first component naming it; this one must agree with it.
        checkShared(sharing, component, manifestFile);
      } else if (!component.getSha256().isEmpty()) {
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

  /** What a TorchScript method name may be: a Python identifier in ASCII. */
  private static final Pattern METHOD_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  /** The TorchScript method a component runs: its {@code method}, or {@code forward} when unset. */
  public static String method(Component component) {
    return component.getMethod().isEmpty() ? "forward" : component.getMethod();
  }

  private static void checkMethodName(Component component, Path manifestFile) {
    String method = component.getMethod();
    if (!method.isEmpty() && !METHOD_NAME.matcher(method).matches()) {
      throw new ModelPackageException(
          manifestFile
              + ": component '"
              + component.getName()
              + "' names method '"
              + method
              + "', which is not a TorchScript method name (ASCII letters, digits and"
              + " underscores, not starting with a digit)");
    }
  }

  /**
   * Two components naming one file share its loaded module: they must record the file's one hash
   * and its weights' one precision, and run different methods of it.
   */
  private static void checkShared(Component first, Component second, Path manifestFile) {
    String both =
        manifestFile
            + ": components '"
            + first.getName()
            + "' and '"
            + second.getName()
            + "' both name "
            + second.getFile();
    if (!first.getSha256().equalsIgnoreCase(second.getSha256())) {
      throw new ModelPackageException(
          both
              + " but record different SHA-256 ("
              + (first.getSha256().isEmpty() ? "none" : first.getSha256())
              + " and "
              + (second.getSha256().isEmpty() ? "none" : second.getSha256())
              + "); one file has one hash");
    }
    if (precisionValue(first) != precisionValue(second)) {
      throw new ModelPackageException(
          both
              + " but record different precisions ("
              + first.getPrecision()
              + " and "
              + second.getPrecision()
              + "); one file holds its weights in one precision");
    }
    if (method(first).equals(method(second))) {
      throw new ModelPackageException(
          both
              + " and run the same method '"
              + method(second)
              + "'; components sharing a file run different methods of it");
    }
  }

  /** The precision's number, unset counted as float32 (what it means). */
  private static int precisionValue(Component component) {
    int value = component.getPrecisionValue();
    return value == Precision.PRECISION_UNSPECIFIED_VALUE ? Precision.PRECISION_FP32_VALUE : value;
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
   * The component files, each once however many components name it, in the order the manifest first
   * names them.
   */
  public List<Path> componentFiles() {
    Set<Path> files = new LinkedHashSet<>();
    for (Component component : manifest.getComponentsList()) {
      files.add(file(component));
    }
    return List.copyOf(files);
  }

  /** The bytes of the component files, a file that several components share counted once. */
  public long componentFileBytes() {
    long total = 0;
    for (Path file : componentFiles()) {
      try {
        total += Files.size(file);
      } catch (IOException e) {
        throw new ModelPackageException("cannot read " + file + ": " + e.getMessage(), e);
      }
    }
    return total;
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
