package dev.genloom.generators;

import ai.djl.Device;
import dev.genloom.proto.v1.Component;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The TorchScript components of one package on one device, each loaded once, when first asked for,
 * and shared: a component a request never needs (the VAE encoder of a text-to-image run) is never
 * loaded. Each file is loaded once as one module: components naming the same file (a transformer's
 * {@code prefill} and {@code decode} methods) share it, and its weights are held and counted once.
 * Thread-safe.
 */
public final class LoadedComponents implements AutoCloseable {
  private final ModelPackage pkg;
  private final Device device;
  private final Map<String, Component> specs;
  private final Map<String, TorchComponent> loaded = new LinkedHashMap<>();
  private final Map<Path, TorchModule> modules = new LinkedHashMap<>();
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
   * The named component, loaded on first use (its file loaded unless another component of the file
   * loaded it); a package without it fails naming its manifest, a file that does not load fails
   * naming the file, and a method the file's module lacks fails naming the component, the file and
   * the method.
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
    Path file = pkg.file(spec);
    TorchComponent.checkBoundary(spec, file);
    TorchModule module = modules.get(file);
    if (module == null) {
      long before = ProcessMemory.residentBytes().orElse(0);
      module = TorchModule.load(pkg, file, device, componentsOf(file));
      long after = ProcessMemory.residentBytes().orElse(before);
      // Loads of one package are serialized by this lock; another package loading at the same time
      // would be counted here too, which the worker avoids by loading packages one after another.
      // On the CPU the weights are read into this process, at least the file's bytes, even when the
      // allocator reuses memory freed earlier and the process does not grow by as much.
      long floor = device.isGpu() ? 0 : fileBytes(file);
      residentBytes += Math.max(floor, after - before);
      modules.put(file, module);
    }
    component = TorchComponent.on(module, spec, false);
    loaded.put(name, component);
    return component;
  }

  private static long fileBytes(Path file) {
    try {
      return java.nio.file.Files.size(file);
    } catch (java.io.IOException e) {
      return 0;
    }
  }

  /** The names of the manifest's components that name {@code file}. */
  private List<String> componentsOf(Path file) {
    List<String> names = new ArrayList<>();
    for (Component spec : specs.values()) {
      if (pkg.file(spec).equals(file)) {
        names.add(spec.getName());
      }
    }
    return names;
  }

  /** Loads every component the manifest lists that is not loaded yet. */
  public synchronized void loadAll() {
    for (String name : specs.keySet()) {
      get(name);
    }
  }

  /**
   * The resident memory this process gained while loading the component files so far, in bytes: the
   * weights as the engine holds them, a file shared by several components counted once (a measure
   * on the CPU, never less than the files' bytes there, since the allocator may reuse memory freed
   * earlier; on a GPU the weights live in device memory and this is the host side only).
   */
  public synchronized long residentBytes() {
    return residentBytes;
  }

  /**
   * The bytes of the component files the manifest lists, each file once however many components
   * name it: what loading them all reads.
   */
  public long fileBytes() {
    return pkg.componentFileBytes();
  }

  /** Whether the manifest lists the component (loaded or not). */
  public boolean has(String name) {
    return specs.containsKey(name);
  }

  /** Names of the components loaded so far, in load order. */
  public synchronized List<String> loadedNames() {
    return new ArrayList<>(loaded.keySet());
  }

  /** How many files are loaded, each one module however many of its components are in use. */
  synchronized int loadedModules() {
    return modules.size();
  }

  @Override
  public synchronized void close() {
    closed = true;
    loaded.clear();
    modules.values().forEach(TorchModule::close);
    modules.clear();
  }
}
