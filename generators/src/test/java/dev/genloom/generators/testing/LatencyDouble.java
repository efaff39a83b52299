package dev.genloom.generators.testing;

import dev.genloom.generators.GeneratedMedia;
import dev.genloom.generators.GenerationCancelledException;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ProgressListener;
import dev.genloom.generators.RgbImage;
import java.util.ArrayList;
import java.util.List;

/**
 * A TEST DOUBLE, not a model: it stands in for a real generator in fleet load tests. It keeps a
 * package's name, defaults and validation of the request's shape, but "computes" by sleeping a
 * fixed time per step (one sleep per step for the whole batch, as a batched forward would take) and
 * returns a solid image whose colour depends only on the seed. Nothing it produces means anything;
 * workers that use it say so when they start.
 */
public final class LatencyDouble implements Generator {
  /** Side of the solid images it returns. */
  static final int SIZE = 32;

  private final ModelPackage pkg;
  private final long stepMillis;

  public LatencyDouble(ModelPackage pkg, long stepMillis) {
    if (stepMillis < 0) {
      throw new IllegalArgumentException("step time must be >= 0 ms, got " + stepMillis);
    }
    this.pkg = pkg;
    this.stepMillis = stepMillis;
  }

  @Override
  public ModelPackage pkg() {
    return pkg;
  }

  @Override
  public GenerationSpec defaults(String prompt, long seed) {
    var d = pkg.manifest().getDefaults();
    return GenerationSpec.fromDefaults(
            d, prompt, seed, d.getSampler().isEmpty() ? "double" : d.getSampler())
        .toBuilder()
        .eta(0f)
        .strength(0.6f)
        .temperature(1f)
        .topK(0)
        .topP(1f)
        .cfgSchedule(null)
        .build();
  }

  @Override
  public void validate(GenerationSpec spec) {
    if (spec.reference().isPresent()) {
      throw new IllegalArgumentException(
          "reference_images: the latency double does not take reference images");
    }
  }

  @Override
  public List<GeneratedMedia> generate(List<GenerationSpec> batch, ProgressListener progress) {
    batch.forEach(this::validate);
    long start = System.nanoTime();
    int steps = batch.get(0).steps();
    for (int step = 1; step <= steps; step++) {
      if (progress.cancelled()) {
        throw new GenerationCancelledException(step, steps);
      }
      try {
        Thread.sleep(stepMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new GenerationCancelledException(step, steps);
      }
      progress.onStep(step, steps, () -> solid(batch.get(0).seed()));
    }
    long computeMillis = (System.nanoTime() - start) / 1_000_000;
    List<GeneratedMedia> out = new ArrayList<>();
    for (GenerationSpec spec : batch) {
      out.add(
          new GeneratedMedia(
              List.of(solid(spec.seed())), 0, steps, 0, computeMillis, batch.size(), 0));
    }
    return out;
  }

  static RgbImage solid(long seed) {
    long mixed = seed * 0x9E3779B97F4A7C15L;
    byte[] rgb = new byte[SIZE * SIZE * 3];
    for (int i = 0; i < rgb.length; i += 3) {
      rgb[i] = (byte) (mixed >>> 16);
      rgb[i + 1] = (byte) (mixed >>> 24);
      rgb[i + 2] = (byte) (mixed >>> 32);
    }
    return new RgbImage(SIZE, SIZE, rgb);
  }

  @Override
  public void close() {}
}
