package dev.genloom.generators;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.TranslateException;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.DType;
import dev.genloom.proto.v1.TensorSpec;
import java.io.IOException;
import java.nio.file.Path;

/**
 * One TorchScript component of a package, loaded once as a DJL {@link Model} and shared. DJL
 * predictors are not thread-safe, so each thread gets its own through {@link #predictor()}.
 */
public final class TorchComponent implements AutoCloseable {
  private final Component spec;
  private final Path file;
  private final Model model;
  private final ThreadLocal<Predictor<NDList, NDList>> predictors;

  private TorchComponent(Component spec, Path file, Model model) {
    this.spec = spec;
    this.file = file;
    this.model = model;
    this.predictors = ThreadLocal.withInitial(() -> model.newPredictor(new NoopTranslator()));
  }

  /** Loads a component of {@code pkg} on {@code device}; failures name the file. */
  public static TorchComponent load(ModelPackage pkg, Component spec, Device device) {
    Path file = pkg.file(spec);
    checkBoundary(spec, file);
    String fileName = file.getFileName().toString();
    String prefix =
        fileName.endsWith(".pt") ? fileName.substring(0, fileName.length() - 3) : fileName;
    Model model = Model.newInstance(pkg.name() + "/" + spec.getName(), device, "PyTorch");
    try {
      model.load(file.getParent(), prefix);
    } catch (IOException | MalformedModelException | RuntimeException e) {
      model.close();
      throw new ModelPackageException(
          "cannot load TorchScript component '"
              + spec.getName()
              + "' from "
              + file
              + ": "
              + e.getMessage(),
          e);
    }
    return new TorchComponent(spec, file, model);
  }

  /**
   * Refuses half-precision tensors at the component's boundary: the runtime creates only float32
   * and integer arrays ({@link Precisions}); a half-precision component casts inside its
   * TorchScript.
   */
  static void checkBoundary(Component spec, Path file) {
    Precisions.of(spec);
    for (TensorSpec t : spec.getInputsList()) {
      refuseHalf(spec, file, "input", t);
    }
    for (TensorSpec t : spec.getOutputsList()) {
      refuseHalf(spec, file, "output", t);
    }
  }

  private static void refuseHalf(Component spec, Path file, String what, TensorSpec t) {
    if (t.getDtype() == DType.DTYPE_FLOAT16 || t.getDtype() == DType.UNRECOGNIZED) {
      throw new ModelPackageException(
          "component '"
              + spec.getName()
              + "' ("
              + file
              + "): "
              + what
              + " '"
              + t.getName()
              + "' is "
              + (t.getDtype() == DType.DTYPE_FLOAT16
                  ? "float16"
                  : "of dtype value " + t.getDtypeValue())
              + "; tensors at a component boundary must be float32 or integer (a half-precision"
              + " component casts inside its TorchScript and records its precision in the"
              + " manifest)");
    }
  }

  public Component spec() {
    return spec;
  }

  public Path file() {
    return file;
  }

  /** This thread's predictor. */
  public Predictor<NDList, NDList> predictor() {
    return predictors.get();
  }

  /** Runs the component on positional inputs; outputs come back in manifest order. */
  public NDList forward(NDList inputs) {
    try {
      return predictor().predict(inputs);
    } catch (TranslateException e) {
      throw new IllegalStateException(
          "component '" + spec.getName() + "' (" + file + ") failed: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    model.close();
  }
}
