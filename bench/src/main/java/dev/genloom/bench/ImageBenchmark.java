package dev.genloom.bench;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.genloom.evaluation.Statistics;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ProcessMemory;
import dev.genloom.generators.ProgressListener;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;

/**
 * Seconds per image and peak resident memory of one package at one size, in this process: the
 * package is opened once (with every component loaded and timed, when asked), one untimed warm-up
 * image runs (the same settings, with as many steps as asked: a real-size model warms up in fewer
 * than it is timed with), then each repeat generates one image (text encoders, denoising loop with
 * guidance, VAE decoder).
 */
public final class ImageBenchmark implements AutoCloseable {
  /** One measurement, as written to JSON. */
  public record Result(
      String engine,
      String model,
      int width,
      int height,
      String sampler,
      int steps,
      @JsonProperty("warmup_steps") int warmupSteps,
      @JsonProperty("guidance_scale") float guidanceScale,
      String threads,
      String device,
      @JsonProperty("load_s") double loadSeconds,
      @JsonProperty("weights_resident_bytes") long weightsResidentBytes,
      @JsonProperty("seconds_per_image") double[] secondsPerImage,
      @JsonProperty("median_s") double medianSeconds,
      @JsonProperty("peak_rss_kib") long peakRssKib) {}

  private final Generator generator;
  private final String device;
  private final double loadSeconds;

  private ImageBenchmark(Generator generator, String device, double loadSeconds) {
    this.generator = generator;
    this.device = device;
    this.loadSeconds = loadSeconds;
  }

  /**
   * Opens the package on {@code device} (cpu or gpu:N), timed; with {@code preload}, every
   * component is loaded now (and timed), else each loads when the warm-up image first needs it, as
   * a worker serves (text-to-image never loads the VAE encoder).
   */
  public static ImageBenchmark load(ModelPackage pkg, String device, boolean preload) {
    long start = System.nanoTime();
    Generator generator = Generators.open(pkg, Generators.device(device));
    if (preload) {
      try {
        generator.preload();
      } catch (RuntimeException e) {
        generator.close();
        throw e;
      }
    }
    return new ImageBenchmark(generator, device, (System.nanoTime() - start) / 1e9);
  }

  /** The loaded generator, for its defaults and validation. */
  public Generator generator() {
    return generator;
  }

  /**
   * One warm-up image of {@code warmupSteps} steps, then {@code repeats} timed ones with seeds 0,
   * 1, ...
   */
  public Result measure(GenerationSpec settings, int warmupSteps, int repeats, PrintWriter out) {
    if (repeats < 1) {
      throw new BenchmarkException("repeats: must be >= 1, got " + repeats);
    }
    if (warmupSteps < 1) {
      throw new BenchmarkException("warmup-steps: must be >= 1, got " + warmupSteps);
    }
    String model = generator.pkg().name();
    out.printf(
        Locale.ROOT,
        "%s: loaded in %.1f s; %dx%d, %s, %d steps, guidance %s; warm-up (%d steps)...%n",
        model,
        loadSeconds,
        settings.width(),
        settings.height(),
        settings.sampler(),
        settings.steps(),
        settings.guidanceScale(),
        warmupSteps);
    out.flush();
    GenerationSpec warmup = settings.toBuilder().steps(warmupSteps).seed(-1).build();
    generator.generate(List.of(warmup), ProgressListener.NONE);
    double[] seconds = new double[repeats];
    for (int r = 0; r < repeats; r++) {
      long start = System.nanoTime();
      generator.generate(List.of(settings.withSeed(r)), ProgressListener.NONE);
      seconds[r] = (System.nanoTime() - start) / 1e9;
      out.printf(Locale.ROOT, "  image %d: %.2f s%n", r + 1, seconds[r]);
      out.flush();
    }
    double median = Statistics.median(seconds);
    long peakKib = ProcessMemory.peakBytes().orElse(0) / 1024;
    out.printf(
        Locale.ROOT,
        "%s: median %.2f s per image over %d, peak resident memory %.2f GiB%n",
        model,
        median,
        repeats,
        peakKib / 1048576.0);
    out.flush();
    return new Result(
        "genloom",
        model,
        settings.width(),
        settings.height(),
        settings.sampler(),
        settings.steps(),
        warmupSteps,
        settings.guidanceScale(),
        System.getProperty("ai.djl.pytorch.num_threads", ""),
        device,
        loadSeconds,
        generator.residentBytes(),
        seconds,
        median,
        peakKib);
  }

  @Override
  public void close() {
    generator.close();
  }
}
