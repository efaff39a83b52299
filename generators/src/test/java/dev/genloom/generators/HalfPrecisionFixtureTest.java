package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.Precision;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * fixture-sd15-fp16 is fixture-sd15's diffusers pipeline exported with fp16 weights. Its components
 * run in fp16 on the CPU (they differ from the float32 goldens, within the stated tolerance), its
 * recorded sampling runs replay within the half-precision loop tolerance, and an image it generates
 * is within the stated tolerance of the float32 package's image for the same prompt and seed.
 */
class HalfPrecisionFixtureTest {
  private static final Path MODELS = Path.of("..", "models");

  /** Mean absolute difference allowed between the fp16 and float32 images, in 8-bit levels. */
  static final double MEAN_LEVELS = 2.0;

  /** Largest difference allowed between the fp16 and float32 images, in 8-bit levels. */
  static final int MAX_LEVELS = 16;

  @Test
  void componentsAndSamplingRunsMatchFloat32WithinTheStatedTolerance() {
    ModelPackage pkg = ModelPackage.open(MODELS.resolve("fixture-sd15-fp16"));
    for (Component c : pkg.manifest().getComponentsList()) {
      assertEquals(Precision.PRECISION_FP16, c.getPrecision(), c.getName());
    }
    List<GoldenCheck.Result> components = GoldenCheck.checkComponents(pkg, Device.cpu());
    assertEquals(pkg.manifest().getComponentsCount(), components.size());
    double worstRelative = 0;
    for (GoldenCheck.Result r : components) {
      assertTrue(r.passes(1e-4), r + " within " + r.allowed(1e-4));
      worstRelative = Math.max(worstRelative, r.maxAbsError() / r.maxAbsExpected());
    }
    assertTrue(worstRelative > 1e-4, "the weights really are fp16: " + worstRelative);
    Set<String> covered = new TreeSet<>();
    for (SamplingCheck.Result r : SamplingCheck.check(pkg, Device.cpu())) {
      assertTrue(r.passes(1e-4, 1e-3), r.toString());
      assertTrue(r.latentError() > 1e-5, "fp16 changes the final latents: " + r);
      covered.add(r.subject());
    }
    assertEquals(9, covered.size(), "four samplers at two sizes and DDIM with eta: " + covered);
  }

  @Test
  void generatesWhatTheFloat32PackageGeneratesWithinTheStatedTolerance() {
    GenerationSpec spec;
    RgbImage full;
    try (Generator g =
        Generators.open(ModelPackage.open(MODELS.resolve("fixture-sd15")), Device.cpu())) {
      spec = g.defaults("a lighthouse on a cliff at dusk", 11).toBuilder().steps(8).build();
      full = g.generate(List.of(spec), ProgressListener.NONE).get(0).frames().get(0);
    }
    RgbImage half;
    try (Generator g =
        Generators.open(ModelPackage.open(MODELS.resolve("fixture-sd15-fp16")), Device.cpu())) {
      half = g.generate(List.of(spec), ProgressListener.NONE).get(0).frames().get(0);
    }
    byte[] a = full.rgb();
    byte[] b = half.rgb();
    assertEquals(a.length, b.length);
    long sum = 0;
    int max = 0;
    int differing = 0;
    for (int i = 0; i < a.length; i++) {
      int d = Math.abs((a[i] & 0xff) - (b[i] & 0xff));
      sum += d;
      max = Math.max(max, d);
      differing += d > 0 ? 1 : 0;
    }
    double mean = (double) sum / a.length;
    String what =
        "mean " + mean + ", max " + max + ", " + differing + " of " + a.length + " differ";
    assertTrue(differing > 0, "fp16 changes some pixels: " + what);
    assertTrue(mean <= MEAN_LEVELS && max <= MAX_LEVELS, what);
  }
}
