package dev.genloom.generators;

import ai.djl.Device;
import dev.genloom.proto.v1.Component;
import java.util.LinkedHashMap;
import java.util.Map;

/** Every TorchScript component of one package, loaded once on one device and shared. */
public final class LoadedComponents implements AutoCloseable {
  private final ModelPackage pkg;
  private final Map<String, TorchComponent> components;

  private LoadedComponents(ModelPackage pkg, Map<String, TorchComponent> components) {
    this.pkg = pkg;
    this.components = components;
  }

  /** Loads all components; if one fails, those already loaded are closed and the error names it. */
  public static LoadedComponents load(ModelPackage pkg, Device device) {
    Map<String, TorchComponent> loaded = new LinkedHashMap<>();
    try {
      for (Component spec : pkg.manifest().getComponentsList()) {
        loaded.put(spec.getName(), TorchComponent.load(pkg, spec, device));
      }
    } catch (RuntimeException e) {
      loaded.values().forEach(TorchComponent::close);
      throw e;
    }
    return new LoadedComponents(pkg, loaded);
  }

  public ModelPackage pkg() {
    return pkg;
  }

  /** The named component; a package without it fails naming its manifest. */
  public TorchComponent get(String name) {
    TorchComponent component = components.get(name);
    if (component == null) {
      throw new ModelPackageException(
          pkg.root().resolve(ModelPackage.MANIFEST_FILE)
              + ": a "
              + pkg.kind()
              + " package needs a component named '"
              + name
              + "'");
    }
    return component;
  }

  public boolean has(String name) {
    return components.containsKey(name);
  }

  @Override
  public void close() {
    components.values().forEach(TorchComponent::close);
  }
}
