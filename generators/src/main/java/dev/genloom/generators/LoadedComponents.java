package dev.genloom.generators;

import ai.djl.Device;
import dev.genloom.proto.v1.Component;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The TorchScript components of one package on one device, each loaded once, when first asked for,
 * and shared: a component a request never needs (the VAE encoder of a text-to-image run) is never
 * loaded. Thread-safe.
 */
public final class LoadedComponents implements AutoCloseable {
  private final ModelPackage pkg;
  private final Device device;
  private final Map<String, Component> specs;
  private final Map<String, TorchComponent> loaded = new LinkedHashMap<>();
  private long residentBytes;
  private boolean closed;

  private LoadedComponents(ModelPackage pkg, Device device, Map<String, Component> specs) {
    this.pkg = pkg;
    this.device = device;
    this.specs = specs;
  }

  /** The package's components, none loaded yet. */
  public static LoadedComponents load(ModelPackage pkg, Device device) {
    Map<String, Component> specs = new LinkedHashMap<>();
    for (Component spec : pkg.manifest().getComponentsList()) {
      specs.put(spec.getName(), spec);
    }
    return new LoadedComponents(pkg, device, specs);
  }

  public ModelPackage pkg() {
    return pkg;
  }

  /**
   * The named component, loaded on first use; a package without it fails naming its manifest, and a
   * file that does not load fails naming the file.
   */
  public synchronized TorchComponent get(String name) {
    if (closed) {
      throw new IllegalStateException(pkg.name() + ": the components are closed");
    }
    TorchComponent component = loaded.get(name);
    if (component != null) {
      return component;
    }
    Component spec = specs.get(name);
    if (spec == null) {
      throw new ModelPackageException(
          pkg.root().resolve(ModelPackage.MANIFEST_FILE)
              + ": a "
              + pkg.kind()
              + " package needs a component named '"
              + name
              + "'");
    }
    long before = ProcessMemory.residentBytes().orElse(0);
    component = TorchComponent.load(pkg, spec, device);
    long after = ProcessMemory.residentBytes().orElse(before);
    // Loads of one package are serialized by this lock; another package loading at the same time
    // would be counted here too, which the worker avoids by loading packages one after another.
    residentBytes += Math.max(0, after - before);
    loaded.put(name, component);
    return component;
  }

  /** Loads every component the manifest lists that is not loaded yet. */
  public synchronized void loadAll() {
    for (String name : specs.keySet()) {
      get(name);
    }
  }

  /**
   * The resident memory this process gained while loading the components so far, in bytes: the
   * weights as the engine holds them (a measure on the CPU; on a GPU the weights live in device
   * memory and this is the host side only).
   */
  public synchronized long residentBytes() {
    return residentBytes;
  }

  /** The bytes of every component file the manifest lists: what loading them all reads. */
  public long fileBytes() {
    long total = 0;
    for (Component spec : specs.values()) {
      try {
        total += java.nio.file.Files.size(pkg.file(spec));
      } catch (java.io.IOException e) {
        throw new ModelPackageException("cannot read " + pkg.file(spec) + ": " + e.getMessage(), e);
      }
    }
    return total;
  }

  /** Whether the manifest lists the component (loaded or not). */
  public boolean has(String name) {
    return specs.containsKey(name);
  }

  /** Names of the components loaded so far, in load order. */
  public synchronized List<String> loadedNames() {
    return new ArrayList<>(loaded.keySet());
  }

  @Override
  public synchronized void close() {
    closed = true;
    loaded.values().forEach(TorchComponent::close);
    loaded.clear();
  }
}
