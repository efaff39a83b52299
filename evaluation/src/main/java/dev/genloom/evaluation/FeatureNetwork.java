package dev.genloom.evaluation;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelPackageException;
import dev.genloom.generators.RgbImage;
import dev.genloom.generators.TorchComponent;
import dev.genloom.proto.v1.FeaturesSpec;
import dev.genloom.proto.v1.ModelKind;
import java.util.ArrayList;
import java.util.List;

/**
 * A feature network from a {@code features} package, run through DJL: penultimate features for a
 * Fréchet distance and, when the package has attribute heads, per-head predicted labels.
 */
public final class FeatureNetwork implements AutoCloseable {
  private static final int BATCH = 64;
  private final ModelPackage pkg;
  private final Device device;
  private final TorchComponent component;
  private final FeaturesSpec spec;

  private FeatureNetwork(ModelPackage pkg, Device device, TorchComponent component) {
    this.pkg = pkg;
    this.device = device;
    this.component = component;
    this.spec = pkg.manifest().getFeatures();
  }

  public static FeatureNetwork open(ModelPackage pkg, Device device) {
    if (pkg.kind() != ModelKind.MODEL_KIND_FEATURES) {
      throw new ModelPackageException(
          pkg.name() + " is not a features package (" + pkg.kind() + ")");
    }
    var spec =
        pkg.component("features")
            .orElseThrow(
                () ->
                    new ModelPackageException(
                        pkg.root() + ": features package has no 'features' component"));
    return new FeatureNetwork(pkg, device, TorchComponent.load(pkg, spec, device));
  }

  public String name() {
    return pkg.name();
  }

  /** What produced the numbers, for reports: network and preprocessing. */
  public String describe() {
    String size =
        spec.getInputWidth() > 0
            ? spec.getInputWidth()
                + "x"
                + spec.getInputHeight()
                + " (other sizes resized bilinearly, as pytorch-fid resizes)"
            : "any size (resized inside the network)";
    return pkg.name()
        + " ("
        + spec.getFeatureDim()
        + "-d features, input "
        + size
        + " RGB in "
        + ("symmetric".equals(spec.getInputRange()) ? "[-1, 1]" : "[0, 1]")
        + ")";
  }

  public FeaturesSpec spec() {
    return spec;
  }

  /** Features and head predictions for each image. */
  public record Output(float[][] features, int[][] predictions) {}

  public Output run(List<RgbImage> images) {
    int n = images.size();
    float[][] features = new float[n][];
    int heads = spec.getHeadsCount();
    int[][] predictions = new int[n][heads];
    for (int startIndex = 0; startIndex < n; startIndex += BATCH) {
      int end = Math.min(n, startIndex + BATCH);
      try (NDManager scope = NDManager.newBaseManager(device)) {
        List<NDArray> batch = new ArrayList<>();
        for (int i = startIndex; i < end; i++) {
          RgbImage image = images.get(i);
          boolean fixedSize = spec.getInputWidth() > 0 && spec.getInputHeight() > 0;
          // Images of another size are resized to the network's input, as pytorch-fid resizes
          // every image to Inception's 299x299.
          boolean resize =
              fixedSize
                  && (image.width() != spec.getInputWidth()
                      || image.height() != spec.getInputHeight());
          boolean symmetric = "symmetric".equals(spec.getInputRange());
          if (resize) {
            NDArray unit = image.toUnit(scope, spec.getInputWidth(), spec.getInputHeight());
            batch.add(symmetric ? unit.mul(2).sub(1) : unit);
          } else {
            batch.add(symmetric ? image.toSymmetric(scope) : image.toUnit(scope));
          }
        }
        NDList out = component.forward(new NDList(NDArrays.stack(new NDList(batch))));
        float[] f = out.get(0).toType(DataType.FLOAT32, false).toFloatArray();
        int dim = (int) out.get(0).getShape().get(1);
        for (int i = startIndex; i < end; i++) {
          features[i] =
              java.util.Arrays.copyOfRange(f, (i - startIndex) * dim, (i - startIndex + 1) * dim);
        }
        for (int h = 0; h < heads && h + 1 < out.size(); h++) {
          long[] argmax = out.get(h + 1).argMax(1).toType(DataType.INT64, false).toLongArray();
          for (int i = startIndex; i < end; i++) {
            predictions[i][h] = (int) argmax[i - startIndex];
          }
        }
      }
    }
    return new Output(features, predictions);
  }

  @Override
  public void close() {
    component.close();
  }
}
