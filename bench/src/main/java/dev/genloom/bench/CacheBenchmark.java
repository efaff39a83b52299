package dev.genloom.bench;

import ai.djl.Device;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.genloom.evaluation.Statistics;
import dev.genloom.generators.CacheSpec;
import dev.genloom.generators.Calibratable;
import dev.genloom.generators.Calibration;
import dev.genloom.generators.GeneratedMedia;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import dev.genloom.generators.ProgressListener;
import dev.genloom.generators.RgbImage;
import dev.genloom.proto.v1.CacheSchedule;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Block caching on one package's denoiser graph: each cache policy against the uncached run on the
 * same prompts and seeds, interleaved rounds in one process. Reports block evaluations skipped, the
 * median wall time and its speedup, and PSNR against the uncached images. On a random-weight
 * fixture PSNR checks the mechanics (a skip changes the output, and by how much), not quality. An
 * {@code auto} policy first calibrates a copy of the package on the same prompts.
 */
public final class CacheBenchmark {
  /** Items per batched generation. */
  private static final int BATCH = 4;

  /**
   * What to run.
   *
   * @param model the package measured
   * @param sampler its sampler
   * @param steps denoising steps
   * @param width image width in pixels, 0 for the package's default
   * @param height image height in pixels, 0 for the package's default
   * @param policies cache policies, {@code none} first; {@code auto} and {@code auto:D} use the
   *     calibration
   * @param deltas the calibrated deltas when a policy is {@code auto}
   * @param defaultDelta the delta plain {@code auto} uses, one of {@code deltas}
   * @param samples images per policy and round
   * @param repeats timed rounds
   * @param prompts prompts, cycled over the samples and the calibration
   */
  public record Settings(
      String model,
      String sampler,
      int steps,
      int width,
      int height,
      List<String> policies,
      List<Double> deltas,
      double defaultDelta,
      int samples,
      int repeats,
      Path prompts) {
    public Settings {
      policies = List.copyOf(policies);
      deltas = List.copyOf(deltas);
      if (policies.isEmpty() || !policies.get(0).equals("none")) {
        throw new BenchmarkException("policies: the first must be none, the baseline");
      }
      for (String policy : policies) {
        try {
          CacheSpec.parse(policy);
        } catch (IllegalArgumentException e) {
          throw new BenchmarkException("policies: " + e.getMessage());
        }
      }
      if (steps < 1 || samples < 1 || repeats < 1 || width < 0 || height < 0) {
        throw new BenchmarkException(
            "steps, samples and repeats must be >= 1, width and height >= 0");
      }
      if ((width == 0) != (height == 0)) {
        throw new BenchmarkException("width and height go together");
      }
      if (calibrates(policies) && !deltas.contains(defaultDelta)) {
        throw new BenchmarkException(
            "default-delta: " + defaultDelta + " is not one of the deltas " + deltas);
      }
    }

    private static boolean calibrates(List<String> policies) {
      return policies.stream().anyMatch(p -> p.startsWith("auto"));
    }
  }

  /** One policy's measurements; {@code psnrDb} is null when the images equal the uncached ones. */
  public record Row(
      String policy,
      @JsonProperty("block_evals") long blockEvals,
      @JsonProperty("block_skips") long blockSkips,
      @JsonProperty("skipped_pct") double skippedPct,
      @JsonProperty("wall_s_median") double wallSecondsMedian,
      double speedup,
      @JsonProperty("psnr_db") Double psnrDb) {}

  /** The run: what was measured and one row per policy. */
  public record Result(
      String model,
      String sampler,
      int steps,
      int width,
      int height,
      int samples,
      int repeats,
      @JsonProperty("calibrated_skips") Map<String, Double> calibratedSkips,
      List<Row> rows) {}

  private final Settings settings;
  private final PrintWriter out;

  public CacheBenchmark(Settings settings, PrintWriter out) {
    this.settings = settings;
    this.out = out;
  }

  public Result run(ModelRepository repository) throws Exception {
    ModelPackage pkg = BenchModels.require(repository, settings.model());
    List<String> prompts = PromptFile.read(settings.prompts());
    Path copy = null;
    Map<String, Double> calibrated = new LinkedHashMap<>();
    try {
      if (Settings.calibrates(settings.policies())) {
        copy = Files.createTempDirectory("genloom-bench-cache-");
        pkg = calibrate(copyOf(pkg, copy), prompts, calibrated);
      }
      try (Generator generator = Generators.open(pkg, Device.cpu())) {
        return measure(generator, prompts, calibrated);
      }
    } finally {
      if (copy != null) {
        TempTree.delete(copy);
      }
    }
  }

  private GenerationSpec base(Generator generator, String prompt) {
    GenerationSpec.Builder b =
        generator.defaults(prompt, 0).toBuilder()
            .sampler(settings.sampler())
            .steps(settings.steps());
    if (settings.width() > 0) {
      b.size(settings.width(), settings.height());
    }
    try {
      GenerationSpec spec = b.build();
      generator.validate(spec);
      return spec;
    } catch (IllegalArgumentException e) {
      throw new BenchmarkException(e.getMessage());
    }
  }

  private ModelPackage calibrate(
      ModelPackage pkg, List<String> prompts, Map<String, Double> calibrated) throws IOException {
    try (Generator generator = Generators.open(pkg, Device.cpu())) {
      if (!(generator instanceof Calibratable calibratable)) {
        throw new BenchmarkException(
            "model: " + settings.model() + " has no denoiser blocks to calibrate");
      }
      long start = System.nanoTime();
      Map<String, double[]> changes =
          Calibration.measure(
              calibratable, base(generator, prompts.get(0)), prompts, 1, BATCH, done -> {});
      pkg.writeManifest(
          Calibration.withSchedules(
              pkg.manifest(),
              settings.sampler(),
              settings.steps(),
              settings.deltas(),
              settings.defaultDelta(),
              changes));
      out.printf(
          Locale.ROOT,
          "calibrated %s (%s, %d steps) on %d prompts in %.1f s:%n",
          settings.model(),
          settings.sampler(),
          settings.steps(),
          prompts.size(),
          (System.nanoTime() - start) / 1e9);
    }
    ModelPackage reopened = ModelPackage.open(pkg.root());
    for (CacheSchedule schedule : reopened.manifest().getCacheSchedulesList()) {
      if (schedule.getSampler().equals(settings.sampler())
          && schedule.getSteps() == settings.steps()) {
        double skipped = Calibration.skippedFraction(schedule);
        calibrated.put(Double.toString(schedule.getDelta()), skipped);
        out.printf(
            Locale.ROOT,
            "  delta %-5s skips %5.1f%% of cacheable block evaluations%s%n",
            schedule.getDelta(),
            100 * skipped,
            schedule.getIsDefault() ? "  (auto)" : "");
      }
    }
    out.flush();
    return reopened;
  }

  private Result measure(
      Generator generator, List<String> prompts, Map<String, Double> calibrated) {
    GenerationSpec base = base(generator, prompts.get(0));
    List<GenerationSpec> items = new ArrayList<>();
    for (int i = 0; i < settings.samples(); i++) {
      items.add(base.toBuilder().prompt(prompts.get(i % prompts.size())).seed(1000L + i).build());
    }
    List<String> policies = settings.policies();
    int n = policies.size();
    double[][] walls = new double[n][settings.repeats()];
    long[] evals = new long[n];
    long[] skips = new long[n];
    List<List<RgbImage>> images = new ArrayList<>();
    generate(generator, items, CacheSpec.NONE, null); // warm-up
    for (int r = 0; r < settings.repeats(); r++) {
      for (int k = 0; k < n; k++) {
        CacheSpec cache = CacheSpec.parse(policies.get(k));
        long[] counts = new long[2];
        long start = System.nanoTime();
        List<RgbImage> frames = generate(generator, items, cache, counts);
        walls[k][r] = (System.nanoTime() - start) / 1e9;
        if (r == 0) {
          images.add(frames);
          evals[k] = counts[0];
          skips[k] = counts[1];
        }
      }
    }
    out.printf(
        Locale.ROOT,
        "== %s block caching: %s %d steps, %dx%d, %d items per policy, median of %d ==%n",
        settings.model(),
        settings.sampler(),
        settings.steps(),
        base.width(),
        base.height(),
        settings.samples(),
        settings.repeats());
    out.printf(
        Locale.ROOT,
        "  %-16s %11s %11s %8s %9s %8s %10s%n",
        "policy",
        "block evals",
        "skipped",
        "skipped%",
        "wall s",
        "speedup",
        "PSNR dB");
    double baseline = Statistics.median(walls[0]);
    List<Row> rows = new ArrayList<>();
    for (int k = 0; k < n; k++) {
      double wall = Statistics.median(walls[k]);
      long total = evals[k] + skips[k];
      Row row =
          new Row(
              policies.get(k),
              evals[k],
              skips[k],
              total == 0 ? 0 : 100.0 * skips[k] / total,
              wall,
              baseline / wall,
              psnr(images.get(0), images.get(k)));
      String psnr =
          row.psnrDb() == null ? "identical" : String.format(Locale.ROOT, "%.2f", row.psnrDb());
      rows.add(row);
      out.printf(
          Locale.ROOT,
          "  %-16s %11d %11d %7.1f%% %9.3f %7.2fx %10s%n",
          row.policy(),
          row.blockEvals(),
          row.blockSkips(),
          row.skippedPct(),
          row.wallSecondsMedian(),
          row.speedup(),
          psnr);
    }
    out.flush();
    return new Result(
        settings.model(),
        settings.sampler(),
        settings.steps(),
        base.width(),
        base.height(),
        settings.samples(),
        settings.repeats(),
        calibrated,
        rows);
  }

  /** Every item under {@code cache}, in batches; block counts (per batch) added to counts. */
  private static List<RgbImage> generate(
      Generator generator, List<GenerationSpec> items, CacheSpec cache, long[] counts) {
    List<RgbImage> frames = new ArrayList<>();
    for (int i = 0; i < items.size(); i += BATCH) {
      List<GenerationSpec> batch = new ArrayList<>();
      for (GenerationSpec item : items.subList(i, Math.min(items.size(), i + BATCH))) {
        batch.add(item.toBuilder().cache(cache).build());
      }
      List<GeneratedMedia> results = generator.generate(batch, ProgressListener.NONE);
      results.forEach(m -> frames.addAll(m.frames()));
      if (counts != null) {
        counts[0] += results.get(0).blockEvaluations();
        counts[1] += results.get(0).blockSkips();
      }
    }
    return frames;
  }

  /** PSNR of {@code b} against {@code a} over all their pixels; null when they are equal. */
  static Double psnr(List<RgbImage> a, List<RgbImage> b) {
    double psnr = dev.genloom.generators.ImageSimilarity.psnr(a, b);
    return Double.isInfinite(psnr) ? null : psnr;
  }

  private static ModelPackage copyOf(ModelPackage pkg, Path dir) throws IOException {
    Path source = pkg.root();
    Path target = dir.resolve(source.getFileName().toString());
    try (Stream<Path> files = Files.walk(source)) {
      for (Path p : files.toList()) {
        Path t = target.resolve(source.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t);
        }
      }
    }
    return ModelPackage.open(target);
  }
}
