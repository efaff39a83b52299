package dev.genloom.generators;

import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.Precision;

/**
 * What a component's weight precision means for the runtime and its checks. Tensors at a component
 * boundary are float32 (or int64) whatever the precision: a half-precision component casts inside
 * its TorchScript, so the runtime never creates fp16 or bf16 arrays (creating a BFLOAT16 NDArray
 * kills the JVM in DJL 0.35).
 *
 * <p>A half-precision component is checked against the float32 goldens with a tolerance relative to
 * the largest golden value: 2e-2 for fp16, 4e-2 for bf16, the figures the exporter checks with
 * (genloom_export.precision.RELATIVE_TOLERANCE), set from the fixtures' worst components (fp16
 * 1.9e-2, a VAE decoder; bf16 1.3e-2, a UNet block).
 */
public final class Precisions {
  private Precisions() {}

  /** The tolerance relative to the largest float32 golden value; 0 for float32 weights. */
  public static double relativeTolerance(Precision precision) {
    return switch (precision) {
      case PRECISION_FP16 -> 2e-2;
      case PRECISION_BF16 -> 4e-2;
      default -> 0.0;
    };
  }

  /** The component's precision; a value this runtime does not know is refused by name. */
  public static Precision of(Component component) {
    Precision p = component.getPrecision();
    if (p == Precision.UNRECOGNIZED) {
      throw new ModelPackageException(
          "component '"
              + component.getName()
              + "': precision value "
              + component.getPrecisionValue()
              + " is not one this runtime knows (fp32, fp16, bf16)");
    }
    return p == Precision.PRECISION_UNSPECIFIED ? Precision.PRECISION_FP32 : p;
  }

  /** Whether any component of the package has half-precision weights. */
  public static boolean anyHalf(ModelPackage pkg) {
    return pkg.manifest().getComponentsList().stream()
        .anyMatch(c -> of(c) != Precision.PRECISION_FP32);
  }

  /** The largest relative tolerance over the package's components (0 when all are float32). */
  public static double loosest(ModelPackage pkg) {
    return pkg.manifest().getComponentsList().stream()
        .mapToDouble(c -> relativeTolerance(of(c)))
        .max()
        .orElse(0.0);
  }
}
