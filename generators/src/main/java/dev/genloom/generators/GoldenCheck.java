package dev.genloom.generators;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.GoldenFile;
import dev.genloom.proto.v1.Precision;
import dev.genloom.proto.v1.TensorSpec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Conformance of a package's TorchScript components with the golden tensors the exporter recorded:
 * each component is fed its golden inputs and its outputs are compared by max absolute error.
 */
public final class GoldenCheck {
  private GoldenCheck() {}

  /**
   * The outcome for one component.
   *
   * @param maxAbsExpected the largest absolute golden output value, the scale of a half-precision
   *     component's tolerance
   */
  public record Result(
      String component,
      double maxAbsError,
      long elements,
      Precision precision,
      double maxAbsExpected) {
    /**
     * The error allowed: {@code absolute} for float32 weights; for half-precision weights the
     * larger of that and {@link Precisions#relativeTolerance} times the largest golden value.
     */
    public double allowed(double absolute) {
      return Math.max(absolute, Precisions.relativeTolerance(precision) * maxAbsExpected);
    }

    public boolean passes(double absolute) {
      return maxAbsError <= allowed(absolute);
    }
  }

  /**
   * Checks every component that has a golden file named after it, in the goldens' order. Each file
   * is loaded once, for all its components with goldens, and closed before the next is loaded.
   */
  public static List<Result> checkComponents(ModelPackage pkg, Device device) {
    List<GoldenFile> goldens = pkg.manifest().getGoldensList();
    Map<Path, List<Integer>> byFile = new LinkedHashMap<>();
    for (int i = 0; i < goldens.size(); i++) {
      Component spec = pkg.component(goldens.get(i).getSubject()).orElse(null);
      if (spec == null) {
        continue; // sampling goldens are checked by the generators themselves
      }
      byFile.computeIfAbsent(pkg.file(spec), f -> new ArrayList<>()).add(i);
    }
    Result[] results = new Result[goldens.size()];
    for (Map.Entry<Path, List<Integer>> entry : byFile.entrySet()) {
      List<Component> specs = new ArrayList<>();
      for (int i : entry.getValue()) {
        Component spec = pkg.component(goldens.get(i).getSubject()).get();
        TorchComponent.checkBoundary(spec, entry.getKey());
        specs.add(spec);
      }
      List<String> names = specs.stream().map(Component::getName).distinct().toList();
      try (TorchModule module = TorchModule.load(pkg, entry.getKey(), device, names)) {
        for (int k = 0; k < specs.size(); k++) {
          int i = entry.getValue().get(k);
          TorchComponent component = TorchComponent.on(module, specs.get(k), false);
          results[i] = check(component, pkg.resolve(goldens.get(i).getFile()));
        }
      }
    }
    List<Result> ordered = new ArrayList<>();
    for (Result result : results) {
      if (result != null) {
        ordered.add(result);
      }
    }
    return ordered;
  }

  /** Runs one component on the inputs in {@code goldenFile} and compares its outputs. */
  public static Result check(TorchComponent component, Path goldenFile) {
    Component spec = component.spec();
    try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
      Map<String, NDArray> arrays = readNpz(manager, goldenFile);
      NDList inputs = new NDList();
      for (TensorSpec input : spec.getInputsList()) {
        inputs.add(require(arrays, input.getName(), goldenFile));
      }
      NDList outputs = component.forward(inputs);
      if (outputs.size() != spec.getOutputsCount()) {
        throw new ModelPackageException(
            component.file()
                + ": component '"
                + spec.getName()
                + "' returned "
                + outputs.size()
                + " outputs but the manifest lists "
                + spec.getOutputsCount());
      }
      double maxError = 0;
      double maxExpected = 0;
      long elements = 0;
      java.util.Set<String> inputNames = new java.util.HashSet<>();
      spec.getInputsList().forEach(input -> inputNames.add(input.getName()));
      for (int i = 0; i < outputs.size(); i++) {
        String name = spec.getOutputs(i).getName();
        // An output named like an input (a residual block) is stored as "<name>.out".
        NDArray expected =
            require(arrays, inputNames.contains(name) ? name + ".out" : name, goldenFile);
        NDArray actual = outputs.get(i);
        if (!actual.getShape().equals(expected.getShape())) {
          throw new ModelPackageException(
              component.file()
                  + ": output '"
                  + spec.getOutputs(i).getName()
                  + "' has shape "
                  + actual.getShape()
                  + " but the golden has "
                  + expected.getShape());
        }
        float[] a = actual.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        float[] e = expected.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        for (int k = 0; k < a.length; k++) {
          maxError = Math.max(maxError, Math.abs((double) a[k] - e[k]));
          maxExpected = Math.max(maxExpected, Math.abs((double) e[k]));
        }
        elements += a.length;
      }
      return new Result(spec.getName(), maxError, elements, Precisions.of(spec), maxExpected);
    }
  }

  /** Reads an .npz file into arrays keyed by name. */
  public static Map<String, NDArray> readNpz(NDManager manager, Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      NDList list = NDList.decode(manager, in);
      Map<String, NDArray> byName = new HashMap<>();
      for (NDArray array : list) {
        byName.put(array.getName(), array);
      }
      return byName;
    } catch (IOException | RuntimeException e) {
      throw new ModelPackageException("cannot read golden file " + file + ": " + e.getMessage(), e);
    }
  }

  private static NDArray require(Map<String, NDArray> arrays, String name, Path file) {
    NDArray array = arrays.get(name);
    if (array == null) {
      throw new ModelPackageException(
          file + " has no array '" + name + "' (it has " + arrays.keySet() + ")");
    }
    return array;
  }
}
