package dev.genloom.generators;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * One TorchScript file loaded once as a DJL {@link Model}: the module that every component naming
 * the file runs a method of. Closing it frees the weights for all of them.
 */
final class TorchModule implements AutoCloseable {
  private final Path file;
  private final Model model;
  private final PtSymbolBlock block;
  private final Set<String> methods;

  private TorchModule(Path file, Model model, PtSymbolBlock block, Set<String> methods) {
    this.file = file;
    this.model = model;
    this.block = block;
    this.methods = methods;
  }

  /**
   * Loads {@code file} of {@code pkg} on {@code device}; {@code components} names who asked, for
   * the error when the file does not load.
   */
  static TorchModule load(ModelPackage pkg, Path file, Device device, List<String> components) {
    String fileName = file.getFileName().toString();
    String prefix =
        fileName.endsWith(".pt") ? fileName.substring(0, fileName.length() - 3) : fileName;
    Model model =
        Model.newInstance(pkg.name() + "/" + String.join("+", components), device, "PyTorch");
    try {
      model.load(file.getParent(), prefix);
      PtSymbolBlock block = (PtSymbolBlock) model.getBlock();
      // Inference mode (module.eval()) as a predictor sets it on its first forward; methods other
      // than forward are run without one.
      JniUtils.enableInferenceMode(block);
      Set<String> methods = new TreeSet<>(List.of(JniUtils.getMethodNames(block)));
      return new TorchModule(file, model, block, methods);
    } catch (IOException | MalformedModelException | RuntimeException e) {
      model.close();
      throw new ModelPackageException(
          "cannot load TorchScript "
              + (components.size() == 1 ? "component '" : "components '")
              + String.join("', '", components)
              + "' from "
              + file
              + ": "
              + e.getMessage(),
          e);
    }
  }

  Path file() {
    return file;
  }

  Model model() {
    return model;
  }

  PtSymbolBlock block() {
    return block;
  }

  /** The module's methods, {@code forward} among them when it has one. */
  Set<String> methods() {
    return methods;
  }

  @Override
  public void close() {
    model.close();
  }
}
