package dev.genloom.evaluation;

import dev.genloom.generators.ImageSimilarity;
import dev.genloom.generators.MediaFiles;
import dev.genloom.generators.RgbImage;
import dev.genloom.proto.MediaKind;
import dev.genloom.proto.RunRecords;
import dev.genloom.proto.v1.RunRecord;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Computes every metric per configuration of a pipeline run: counts, wall time, block caching
 * savings, Fréchet distance and KID against a reference, shapes-features prompt alignment, and
 * motion for videos. Media are read and scored in chunks, so memory holds features, not images.
 */
public final class RunEvaluator {
  public static final int KID_SUBSETS = 100;
  public static final int KID_SUBSET_SIZE = 1000;
  public static final long KID_SEED = 0;

  private final FeatureNetwork network;
  private final Reference reference;
  private final ClipScore clip;
  private final Consumer<String> progress;

  public RunEvaluator(FeatureNetwork network, Reference reference, Consumer<String> progress) {
    this(network, reference, null, progress);
  }

  /** With {@code clip} non-null, every configuration also gets a CLIP score. */
  public RunEvaluator(
      FeatureNetwork network, Reference reference, ClipScore clip, Consumer<String> progress) {
    this.network = network;
    this.reference = reference;
    this.clip = clip;
    this.progress = progress;
  }

  public RunMetrics evaluate(Path runDir) {
    List<RunRecord> records = new ArrayList<>(RunRecords.read(runDir));
    // Configurations grouped by model, each model's in id order, and each configuration's items in
    // request-id order: the manifest's order is the runner's, not the launch's, and the sums behind
    // FD and the subsets behind KID depend on the order, so a rerun scores the same media the same.
    records.sort(
        java.util.Comparator.comparing(RunRecord::getModel)
            .thenComparing(RunRecord::getConfig)
            .thenComparing(RunRecord::getRequestId));
    Map<String, List<RunRecord>> byConfig = new LinkedHashMap<>();
    for (RunRecord record : records) {
      byConfig.computeIfAbsent(record.getConfig(), k -> new ArrayList<>()).add(record);
    }
    List<ConfigMetrics> configs = new ArrayList<>();
    Map<String, String> requestedBaselines = new LinkedHashMap<>();
    for (Map.Entry<String, List<RunRecord>> entry : byConfig.entrySet()) {
      progress.accept("scoring " + entry.getKey() + " (" + entry.getValue().size() + " items)");
      configs.add(score(runDir, entry.getKey(), entry.getValue()));
      requestedBaselines.put(entry.getKey(), requestedBaseline(entry.getValue()));
    }
    return new RunMetrics(
        runDir.getFileName() == null ? runDir.toString() : runDir.getFileName().toString(),
        network.name(),
        network.describe(),
        reference.description(),
        clip == null ? "" : clip.name(),
        RunRecords.deadLetters(runDir),
        KID_SUBSETS,
        KID_SUBSET_SIZE,
        versusBaselines(runDir, withBaselines(configs, requestedBaselines), byConfig));
  }

  /**
   * Each configuration that is not its own baseline, compared with its baseline's media on the same
   * prompt items and seeds ({@link VersusBaseline}).
   */
  private List<ConfigMetrics> versusBaselines(
      Path runDir, List<ConfigMetrics> configs, Map<String, List<RunRecord>> byConfig) {
    List<ConfigMetrics> out = new ArrayList<>();
    for (ConfigMetrics config : configs) {
      if (config.baseline().equals(config.id()) || !byConfig.containsKey(config.baseline())) {
        out.add(config);
        continue;
      }
      progress.accept("comparing " + config.id() + " with " + config.baseline());
      Map<String, RunRecord> base = new LinkedHashMap<>();
      for (RunRecord r : ok(byConfig.get(config.baseline()))) {
        base.put(r.getItemId() + "|" + r.getSeed(), r);
      }
      int pairs = 0;
      double psnr = 0;
      double ssim = 0;
      for (RunRecord r : ok(byConfig.get(config.id()))) {
        RunRecord b = base.get(r.getItemId() + "|" + r.getSeed());
        if (b == null) {
          continue;
        }
        List<RgbImage> mine = read(runDir, r);
        List<RgbImage> theirs = read(runDir, b);
        if (!sameShape(mine, theirs)) {
          continue;
        }
        psnr += Math.min(100, ImageSimilarity.psnr(theirs, mine));
        ssim += ImageSimilarity.ssim(theirs, mine);
        pairs++;
      }
      out.add(
          pairs == 0
              ? config
              : config.withVersusBaseline(new VersusBaseline(pairs, psnr / pairs, ssim / pairs)));
    }
    return out;
  }

  private static List<RunRecord> ok(List<RunRecord> records) {
    return records.stream().filter(r -> r.getStatus() == RunRecord.Status.STATUS_OK).toList();
  }

  private static List<RgbImage> read(Path runDir, RunRecord record) {
    Path file = RunRecords.media(runDir, record);
    return MediaKind.ofFileName(file.toString()) == MediaKind.MP4
        ? MediaFiles.readMp4(file)
        : List.of(MediaFiles.readImage(file));
  }

  private static boolean sameShape(List<RgbImage> a, List<RgbImage> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (a.get(i).width() != b.get(i).width() || a.get(i).height() != b.get(i).height()) {
        return false;
      }
    }
    return true;
  }

  private ConfigMetrics score(Path runDir, String id, List<RunRecord> records) {
    List<RunRecord> ok =
        records.stream().filter(r -> r.getStatus() == RunRecord.Status.STATUS_OK).toList();
    int failed = records.size() - ok.size();
    String model = records.get(0).getModel();
    MediaScorer scorer = new MediaScorer(network, clip);
    for (RunRecord record : ok) {
      Path file = RunRecords.media(runDir, record);
      scorer.add(
          MediaKind.ofFileName(file.toString()) == MediaKind.MP4
              ? MediaFiles.readMp4(file)
              : List.of(MediaFiles.readImage(file)),
          record.getPrompt());
    }
    MediaScorer.Scores scores = scorer.finish();
    boolean video = scores.video();
    long[] walls = new long[ok.size()];
    long wallTotal = 0;
    long evals = 0;
    long skips = 0;
    double[] compute = new double[ok.size()];
    boolean computeKnown = !ok.isEmpty();
    for (int i = 0; i < ok.size(); i++) {
      RunRecord record = ok.get(i);
      walls[i] = record.getWallMs();
      computeKnown &= record.getComputeMs() > 0 && record.getBatchSize() > 0;
      compute[i] = record.getComputeMs() / (double) Math.max(1, record.getBatchSize());
      wallTotal += record.getWallMs();
      evals += record.getBlockEvals();
      skips += record.getBlockSkips();
    }
    float[][] f = scores.features();
    double fd = Double.NaN;
    boolean rankDeficient = false;
    if (f.length >= 2) {
      GaussianStats stats = GaussianStats.fromFeatures(f);
      rankDeficient = stats.rankDeficient();
      fd = FrechetDistance.between(stats, reference.stats());
    }
    double kidMean = Double.NaN;
    double kidStd = Double.NaN;
    if (f.length >= 2 && reference.hasFeatures()) {
      KernelInceptionDistance kid =
          KernelInceptionDistance.compute(
              f, reference.features(), KID_SUBSETS, KID_SUBSET_SIZE, KID_SEED);
      kidMean = kid.mean();
      kidStd = kid.std();
    }
    boolean fromImage = records.stream().anyMatch(r -> !r.getReferenceImage().isEmpty());
    String task = (fromImage ? "image" : "text") + "-to-" + (video ? "video" : "image");
    return new ConfigMetrics(
        id,
        model,
        video ? ConfigMetrics.Media.VIDEO : ConfigMetrics.Media.IMAGE,
        task,
        ok.size(),
        failed,
        f.length,
        wallTotal,
        Statistics.median(walls),
        computeKnown ? Statistics.median(compute) : Double.NaN,
        evals,
        skips,
        id,
        1.0,
        fd,
        rankDeficient,
        kidMean,
        kidStd,
        scores.alignment(),
        scores.clip(),
        scores.motion());
  }

  /** The baseline a configuration's grid entry named, or empty. */
  private static String requestedBaseline(List<RunRecord> records) {
    return records.stream()
        .map(RunRecord::getBaseline)
        .filter(b -> !b.isEmpty())
        .findFirst()
        .orElse("");
  }

  /**
   * Each configuration's baseline is the one its grid entry named, when the run has it; else its
   * model's most expensive configuration for the same task (text-to-video is not compared with
   * image-to-video) without skipped blocks (most block evaluations per item). Speedup is the
   * baseline's median per-item worker compute time over its own (wall time when compute times are
   * not recorded). {@code requestedBaselines} maps a configuration id to the baseline its grid
   * entry named (absent or empty: none).
   */
  static List<ConfigMetrics> withBaselines(
      List<ConfigMetrics> configs, Map<String, String> requestedBaselines) {
    List<ConfigMetrics> out = new ArrayList<>();
    for (ConfigMetrics config : configs) {
      ConfigMetrics baseline = named(configs, requestedBaselines.getOrDefault(config.id(), ""));
      if (baseline == null) {
        baseline = mostExpensiveUncached(configs, config);
      }
      boolean compute =
          Double.isFinite(config.computeMsMedian()) && Double.isFinite(baseline.computeMsMedian());
      double own = compute ? config.computeMsMedian() : config.wallMsMedian();
      double base = compute ? baseline.computeMsMedian() : baseline.wallMsMedian();
      double speedup = own > 0 ? base / own : Double.NaN;
      out.add(config.withBaseline(baseline.id(), speedup));
    }
    return out;
  }

  /** The configuration a grid entry named as its baseline, if the run has items of it. */
  private static ConfigMetrics named(List<ConfigMetrics> configs, String id) {
    for (ConfigMetrics c : configs) {
      if (!id.isEmpty() && c.id().equals(id) && c.items() > 0) {
        return c;
      }
    }
    return null;
  }

  /** The same model's and task's uncached configuration with most block evaluations per item. */
  private static ConfigMetrics mostExpensiveUncached(
      List<ConfigMetrics> configs, ConfigMetrics config) {
    ConfigMetrics baseline = config;
    double baselineCost = -1;
    for (ConfigMetrics other : configs) {
      if (!other.model().equals(config.model())
          || !other.task().equals(config.task())
          || other.blockSkips() > 0
          || other.items() == 0) {
        continue;
      }
      double cost = other.blockEvals() / (double) other.items();
      // Ties go to the configuration itself, so an uncached run is its own baseline.
      if (cost > baselineCost || (cost == baselineCost && other == config)) {
        baselineCost = cost;
        baseline = other;
      }
    }
    return baseline;
  }
}
