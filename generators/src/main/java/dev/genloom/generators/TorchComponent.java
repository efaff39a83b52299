package dev.genloom.generators;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.TranslateException;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.DType;
import dev.genloom.proto.v1.TensorSpec;
import java.nio.file.Path;
import java.util.List;

/**
 * One TorchScript component of a package: a method of a loaded module ({@code forward} unless the
 * manifest names another). Components naming one file run methods of one shared module, loaded once
 * ({@link LoadedComponents}). {@code forward} runs through DJL predictors, which are not
 * thread-safe, so each thread gets its own through {@link #predictor()}; any other method is called
 * on the module directly, which keeps no per-call state in Java. Thread-safe.
 */
public final class TorchComponent implements AutoCloseable {
  private final Component spec;
  private final Path file;
  private final TorchModule module;
  private final String method;
  private final boolean ownsModule;
  private final ThreadLocal<Predictor<NDList, NDList>> predictors;

  private TorchComponent(Component spec, TorchModule module, boolean ownsModule) {
    this.spec = spec;
    this.file = module.file();
    this.module = module;
    this.method = ModelPackage.method(spec);
    this.ownsModule = ownsModule;
    Model model = module.model();
    this.predictors = ThreadLocal.withInitial(() -> model.newPredictor(new NoopTranslator()));
  }

  /**
   * Loads a component of {@code pkg} on {@code device} on its own, with a module of its own that
   * {@link #close()} frees; failures name the file (and the method, when the module lacks it).
   */
  public static TorchComponent load(ModelPackage pkg, Component spec, Device device) {
    Path file = pkg.file(spec);
    checkBoundary(spec, file);
    TorchModule module = TorchModule.load(pkg, file, device, List.of(spec.getName()));
    try {
      return on(module, spec, true);
    } catch (RuntimeException e) {
      module.close();
      throw e;
    }
  }

  /**
   * The component {@code spec} running its method of {@code module}; the module's owner closes it
   * unless {@code ownsModule}. A method the module lacks is refused naming the component, the file
   * and the method.
   */
  static TorchComponent on(TorchModule module, Component spec, boolean ownsModule) {
    checkBoundary(spec, module.file());
    String method = ModelPackage.method(spec);
    if (!module.methods().contains(method)) {
      throw new ModelPackageException(
          "component '"
              + spec.getName()
              + "' runs method '"
              + method
              + "' but the TorchScript module in "
              + module.file()
              + " has no such method (it has "
              + (module.methods().isEmpty() ? "none" : String.join(", ", module.methods()))
              + ")");
    }
    return new TorchComponent(spec, module, ownsModule);
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

  /** The TorchScript method this component runs. */
  public String method() {
    return method;
  }

  /** The loaded module this component runs a method of, shared with the file's other components. */
  TorchModule module() {
    return module;
  }

  /**
   * This thread's predictor, which runs the module's {@code forward}; a component running another
   * method has none (use {@link #forward}).
   */
  public Predictor<NDList, NDList> predictor() {
    if (!runsForward()) {
      throw new IllegalStateException(
          "component '"
              + spec.getName()
              + "' ("
              + file
              + ") runs method '"
              + method
              + "', not forward; call forward(NDList)");
    }
    return predictors.get();
  }

  private boolean runsForward() {
    return method.equals("forward");
  }

  /** Runs the component on positional inputs; outputs come back in manifest order. */
  public NDList forward(NDList inputs) {
    if (!runsForward()) {
      return runMethod(inputs);
    }
    try {
      return predictor().predict(inputs);
    } catch (TranslateException e) {
      throw new IllegalStateException(
          "component '" + spec.getName() + "' (" + file + ") failed: " + e.getMessage(), e);
    }
  }

  /**
   * Calls the component's method of the module: the inputs as tensor IValues, the result (a tensor
   * or a tuple of tensors, in manifest output order) as arrays of the first input's manager, as a
   * predictor returns them. Every IValue is closed; the arrays are not copied.
   */
  private NDList runMethod(NDList inputs) {
    if (inputs.isEmpty()) {
      throw new IllegalArgumentException(
          "component '"
              + spec.getName()
              + "' ("
              + file
              + "): method '"
              + method
              + "' needs inputs");
    }
    PtNDManager manager = (PtNDManager) inputs.get(0).getManager();
    IValue[] arguments = new IValue[inputs.size()];
    try {
      for (int i = 0; i < arguments.length; i++) {
        arguments[i] = IValue.from((PtNDArray) inputs.get(i));
      }
      try (IValue result = IValueUtils.runMethod(module.block(), method, arguments)) {
        return outputs(result, manager);
      }
    } catch (RuntimeException e) {
      throw new IllegalStateException(
          "component '"
              + spec.getName()
              + "' ("
              + file
              + ", method '"
              + method
              + "') failed: "
              + e.getMessage(),
          e);
    } finally {
      for (IValue argument : arguments) {
        if (argument != null) {
          argument.close();
        }
      }
    }
  }

  private NDList outputs(IValue result, PtNDManager manager) {
    NDList outputs = new NDList();
    if (result.isTensor()) {
      outputs.add(result.toTensor(manager));
    } else if (result.isTuple()) {
      IValue[] items = result.toIValueTuple();
      try {
        for (IValue item : items) {
          if (!item.isTensor()) {
            throw new IllegalStateException(
                "returned a tuple holding a " + item.getType() + "; outputs are tensors");
          }
          outputs.add(item.toTensor(manager));
        }
      } finally {
        for (IValue item : items) {
          item.close();
        }
      }
    } else {
      throw new IllegalStateException(
          "returned a " + result.getType() + "; outputs are a tensor or a tuple of tensors");
    }
    if (spec.getOutputsCount() > 0 && outputs.size() != spec.getOutputsCount()) {
      int returned = outputs.size();
      outputs.close();
      throw new IllegalStateException(
          "returned " + returned + " outputs but the manifest lists " + spec.getOutputsCount());
    }
    return outputs;
  }

  /** Frees the module when this component loaded it on its own ({@link #load}). */
  @Override
  public void close() {
    if (ownsModule) {
      module.close();
    }
  }
}
