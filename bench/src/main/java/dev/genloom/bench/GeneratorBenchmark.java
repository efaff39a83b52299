package dev.genloom.bench;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.evaluation.Alignment;
import dev.genloom.evaluation.FeatureNetwork;
import dev.genloom.evaluation.GaussianStats;
import dev.genloom.evaluation.MediaScorer;
import dev.genloom.evaluation.Statistics;
import dev.genloom.evaluation.StatsFiles;
import dev.genloom.generators.CacheSpec;
import dev.genloom.generators.Calibration;
import dev.genloom.generators.GeneratedMedia;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.ModelRepository;
import dev.genloom.generators.ProcessMemory;
import dev.genloom.proto.v1.CacheSchedule;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The generator benchmarks: throughput, block caching against fewer steps at equal compute, DiT
 * caching and Token-Shuffle decode time, each configuration measured side by side in one run
 * (interleaved repeats, medians), quality scored with {@link MediaScorer}.
 */
public final class GeneratorBenchmark {
  /** The parts, in the order they run. */
  public static final List<String> PARTS =
      List.of("throughput", "ldm-cache", "dit-cache", "ar", "memory");

  /**
   * What to run.
   *
   * @param samples images per quality configuration
   * @param videoSamples videos per DiT configuration
   * @param repeats timing repeats per configuration
   * @param parts the parts to run, a subset of {@link #PARTS}
   * @param models the packages measured
   * @param referenceStats real-image feature statistics (an .npz) for FD
   * @param imagePrompts prompts for the image parts
   * @param videoPrompts prompts for the video part
   */
  public record Settings(
      int samples,
      int videoSamples,
      int repeats,
      Set<String> parts,
      BenchModels models,
      Path referenceStats,
      Path imagePrompts,
      Path videoPrompts) {
    public Settings {
      if (samples < 2 || videoSamples < 2 || repeats < 1) {
        throw new BenchmarkException(
            "samples and video-samples must be >= 2, repeats >= 1; got "
                + samples
                + ", "
                + videoSamples
                + ", "
                + repeats);
      }
      for (String part : parts) {
        if (!PARTS.contains(part)) {
          throw new BenchmarkException(
              "only: unknown part '" + part + "' (parts: " + String.join(", ", PARTS) + ")");
        }
      }
      parts = Set.copyOf(parts);
    }
  }

  private final Settings settings;
  private final PrintWriter out;
  private final ObjectMapper mapper = new ObjectMapper();
  private final int samples;
  private final int videoSamples;
  private final int repeats;

  public GeneratorBenchmark(Settings settings, PrintWriter out) {
    this.settings = settings;
    this.out = out;
    this.samples = settings.samples();
    this.videoSamples = settings.videoSamples();
    this.repeats = settings.repeats();
  }

  private boolean wants(String part) {
    return settings.parts().contains(part);
  }

  /** Runs the chosen parts; their results, one field per part, plus the machine. */
  public ObjectNode run(ModelRepository repository) throws IOException {
    BenchModels models = settings.models();
    ObjectNode results = mapper.createObjectNode();
    results.put(
        "machine",
        Runtime.getRuntime().availableProcessors() + " cores, Java " + Runtime.version());
    try (FeatureNetwork features =
        FeatureNetwork.open(BenchModels.require(repository, models.features()), Device.cpu())) {
      GaussianStats real = StatsFiles.load(settings.referenceStats());
      List<String> prompts = PromptFile.read(settings.imagePrompts());
      if (wants("throughput") || wants("ldm-cache")) {
        try (Generator ldm =
            Generators.open(BenchModels.require(repository, models.ldm()), Device.cpu())) {
          if (wants("throughput")) {
            results.set("throughput", throughput(ldm, prompts));
          }
          if (wants("ldm-cache")) {
            ArrayNode cache = mapper.createArrayNode();
            cache.addAll(ldmCache(ldm, "ddim", 50, prompts, features, real));
            cache.addAll(ldmCache(ldm, "dpmpp2m", 20, prompts, features, real));
            results.set("ldm_cache", cache);
          }
        }
      }
      if (wants("dit-cache")) {
        try (Generator dit =
            Generators.open(BenchModels.require(repository, models.dit()), Device.cpu())) {
          results.set(
              "dit_cache", ditCache(dit, PromptFile.read(settings.videoPrompts()), features));
        }
      }
      if (wants("ar")) {
        results.set("ar", arDecode(repository, prompts));
      }
      if (wants("memory")) {
        try (Generator ldm =
            Generators.open(BenchModels.require(repository, models.ldm()), Device.cpu())) {
          results.set("memory", memory(ldm, prompts));
        }
      }
    }
    out.flush();
    return results;
  }

  private ObjectNode throughput(Generator ldm, List<String> prompts) {
    out.println("== " + ldm.pkg().name() + " throughput (DDIM 50, no cache) ==");
    int[] batches = {1, 8};
    double[][] rates = new double[batches.length][repeats];
    ldm.generate(List.of(ldm.defaults(prompts.get(0), 0)), (s, t, p) -> {}); // warm-up
    for (int r = 0; r < repeats; r++) {
      for (int k = 0; k < batches.length; k++) {
        List<GenerationSpec> batch = new ArrayList<>();
        for (int b = 0; b < batches[k]; b++) {
          batch.add(ldm.defaults(prompts.get(b % prompts.size()), r * 100L + b));
        }
        long start = System.nanoTime();
        ldm.generate(batch, (s, t, p) -> {});
        rates[k][r] = batches[k] / ((System.nanoTime() - start) / 1e9);
      }
    }
    ObjectNode node = mapper.createObjectNode();
    for (int k = 0; k < batches.length; k++) {
      double median = Statistics.median(rates[k]);
      node.put("batch_" + batches[k] + "_images_per_s", median);
      out.printf(
          Locale.ROOT, "  batch %d: %.2f images/s (median of %d)%n", batches[k], median, repeats);
    }
    out.flush();
    return node;
  }

  /**
   * One untimed batch before the first timed configuration, so that the baseline does not pay for
   * loading and the first TorchScript runs alone (which would inflate every speedup).
   */
  private static void warmUp(Generator generator, GenerationSpec spec) {
    List<GenerationSpec> batch = new ArrayList<>();
    for (int b = 0; b < 8; b++) {
      batch.add(spec.withSeed(900L + b));
    }
    generator.generate(batch, (s, t, p) -> {});
  }

  /** One configuration's quality and cost; {@code motion} is NaN for images. */
  private record Measured(
      String name,
      double wallSeconds,
      long evals,
      long skips,
      double fd,
      Alignment alignment,
      double motion) {}

  private Measured measure(
      Generator generator,
      String name,
      GenerationSpec config,
      List<String> prompts,
      int count,
      FeatureNetwork features,
      GaussianStats real) {
    MediaScorer scorer = new MediaScorer(features, null);
    long evals = 0;
    long skips = 0;
    long start = System.nanoTime();
    int batchSize = 8;
    for (int i = 0; i < count; i += batchSize) {
      List<GenerationSpec> batch = new ArrayList<>();
      for (int b = i; b < Math.min(count, i + batchSize); b++) {
        String prompt = prompts.get(b % prompts.size());
        batch.add(config.toBuilder().prompt(prompt).seed(1000L + b).build());
      }
      List<GeneratedMedia> results = generator.generate(batch, (s, t, p) -> {});
      for (int k = 0; k < results.size(); k++) {
        scorer.add(results.get(k).frames(), batch.get(k).prompt());
      }
      // Block counts are per batched forward, shared by every item of the batch.
      evals += results.get(0).blockEvaluations();
      skips += results.get(0).blockSkips();
    }
    double wall = (System.nanoTime() - start) / 1e9;
    MediaScorer.Scores scores = scorer.finish();
    double fd = real == null ? Double.NaN : scores.frechetDistance(real);
    Alignment alignment = scores.alignment();
    double motion = scores.video() ? scores.motion().correct() : Double.NaN;
    out.printf(
        Locale.ROOT,
        "  %-28s wall %7.1f s  block evals %7d  skipped %7d  FD %8.3f  aligned %5.1f%%%s%n",
        name,
        wall,
        evals,
        skips,
        fd,
        100 * alignment.allCorrect(),
        Double.isNaN(motion) ? "" : String.format(Locale.ROOT, "  motion %5.1f%%", 100 * motion));
    out.flush();
    return new Measured(name, wall, evals, skips, fd, alignment, motion);
  }

  private ArrayNode ldmCache(
      Generator ldm,
      String sampler,
      int steps,
      List<String> prompts,
      FeatureNetwork features,
      GaussianStats real) {
    out.printf(
        Locale.ROOT,
        "== %s block caching, %s %d steps, %d samples per row ==%n",
        ldm.pkg().name(),
        sampler,
        steps,
        samples);
    GenerationSpec base =
        ldm.defaults(prompts.get(0), 0).toBuilder().sampler(sampler).steps(steps).build();
    List<CacheSchedule> schedules =
        ldm.pkg().manifest().getCacheSchedulesList().stream()
            .filter(s -> s.getSampler().equals(sampler) && s.getSteps() == steps)
            .toList();
    Map<String, GenerationSpec> configs = new LinkedHashMap<>();
    configs.put("uncached " + steps + " steps", base);
    for (CacheSchedule schedule : schedules) {
      configs.put(
          "auto delta=" + schedule.getDelta() + (schedule.getIsDefault() ? " (default)" : ""),
          base.toBuilder().cache(new CacheSpec(CacheSpec.Kind.AUTO, schedule.getDelta())).build());
      // Fewer steps at equal compute: the same share of block evaluations, spent on whole steps.
      double kept = 1 - Calibration.skippedFraction(schedule);
      int fewer = Math.max(2, (int) Math.round(steps * kept));
      configs.putIfAbsent(
          "uncached " + fewer + " steps (equal compute)", base.toBuilder().steps(fewer).build());
    }
    warmUp(ldm, base);
    ArrayNode rows = mapper.createArrayNode();
    Measured baseline = null;
    for (Map.Entry<String, GenerationSpec> config : configs.entrySet()) {
      Measured m =
          measure(ldm, config.getKey(), config.getValue(), prompts, samples, features, real);
      if (baseline == null) {
        baseline = m;
      }
      rows.add(row(sampler, steps, m, baseline));
    }
    return rows;
  }

  private ObjectNode row(String sampler, int steps, Measured m, Measured baseline) {
    ObjectNode row = mapper.createObjectNode();
    row.put("sampler", sampler);
    row.put("steps", steps);
    row.put("config", m.name());
    row.put("wall_s", m.wallSeconds());
    row.put("speedup", baseline.wallSeconds() / m.wallSeconds());
    row.put("block_evals", m.evals());
    row.put("block_skips", m.skips());
    row.put("fd", m.fd());
    row.put("fd_change_pct", 100 * (m.fd() / baseline.fd() - 1));
    row.put("aligned", m.alignment().allCorrect());
    row.put(
        "aligned_change_points",
        100 * (m.alignment().allCorrect() - baseline.alignment().allCorrect()));
    if (!Double.isNaN(m.motion())) {
      row.put("motion", m.motion());
      row.put("motion_change_points", 100 * (m.motion() - baseline.motion()));
    }
    return row;
  }

  private ArrayNode ditCache(Generator dit, List<String> prompts, FeatureNetwork features) {
    out.printf(
        Locale.ROOT,
        "== %s caching, euler 25 steps, %d videos per row ==%n",
        dit.pkg().name(),
        videoSamples);
    GenerationSpec base = dit.defaults(prompts.get(0), 0);
    Map<String, GenerationSpec> configs = new LinkedHashMap<>();
    configs.put("uncached", base);
    for (String policy :
        List.of("fora:2", "fora:3", "fora:4", "teacache:0.1", "teacache:0.2", "teacache:0.4")) {
      configs.put(policy, base.toBuilder().cache(CacheSpec.parse(policy)).build());
    }
    warmUp(dit, base);
    ArrayNode rows = mapper.createArrayNode();
    Measured baseline = null;
    for (Map.Entry<String, GenerationSpec> config : configs.entrySet()) {
      Measured m =
          measure(dit, config.getKey(), config.getValue(), prompts, videoSamples, features, null);
      if (baseline == null) {
        baseline = m;
      }
      rows.add(row("euler", base.steps(), m, baseline));
    }
    return rows;
  }

  /** Resident memory after the first 20 and after 300 generations (batch 1). */
  private ObjectNode memory(Generator ldm, List<String> prompts) throws IOException {
    out.println("== native memory: " + ldm.pkg().name() + ", 300 generations at batch 1 ==");
    long after20 = 0;
    for (int i = 1; i <= 300; i++) {
      ldm.generate(List.of(ldm.defaults(prompts.get(i % prompts.size()), i)), (s, t, p) -> {});
      if (i == 20) {
        after20 = ProcessMemory.residentBytes().orElse(0) / 1024;
      }
    }
    long after300 = ProcessMemory.residentBytes().orElse(0) / 1024;
    double growth = 100.0 * (after300 - after20) / after20;
    out.printf(
        Locale.ROOT,
        "  RSS after 20: %d MiB, after 300: %d MiB, growth %.1f%%%n",
        after20 / 1024,
        after300 / 1024,
        growth);
    ObjectNode node = mapper.createObjectNode();
    node.put("rss_after_20_kb", after20);
    node.put("rss_after_300_kb", after300);
    node.put("growth_pct", growth);
    return node;
  }

  private ObjectNode arDecode(ModelRepository repository, List<String> prompts) {
    BenchModels names = settings.models();
    out.println(
        "== "
            + names.arShuffled()
            + " (Token-Shuffle s=2) against "
            + names.arBaseline()
            + ", one image, batch 1 ==");
    try (Generator s1 =
            Generators.open(
                BenchModels.require(repository, settings.models().arBaseline()), Device.cpu());
        Generator s2 =
            Generators.open(
                BenchModels.require(repository, settings.models().arShuffled()), Device.cpu())) {
      Generator[] models = {s1, s2};
      double[][] seconds = new double[2][repeats];
      long[] forwards = new long[2];
      for (Generator g : models) {
        g.generate(List.of(g.defaults(prompts.get(0), 0)), (s, t, p) -> {}); // warm-up
      }
      for (int r = 0; r < repeats; r++) {
        for (int k = 0; k < 2; k++) {
          GenerationSpec one = models[k].defaults(prompts.get(r % prompts.size()), r);
          long start = System.nanoTime();
          GeneratedMedia media = models[k].generate(List.of(one), (s, t, p) -> {}).get(0);
          seconds[k][r] = (System.nanoTime() - start) / 1e9;
          forwards[k] = media.blockEvaluations();
        }
      }
      ObjectNode node = mapper.createObjectNode();
      double m1 = Statistics.median(seconds[0]);
      double m2 = Statistics.median(seconds[1]);
      node.put("s1_seconds", m1);
      node.put("s2_seconds", m2);
      node.put("s1_forwards", forwards[0]);
      node.put("s2_forwards", forwards[1]);
      node.put("speedup", m1 / m2);
      out.printf(
          Locale.ROOT,
          "  s1 %.3f s (%d forwards)  s2 %.3f s (%d forwards)  speedup %.2fx (medians of %d)%n",
          m1,
          forwards[0],
          m2,
          forwards[1],
          m1 / m2,
          repeats);
      out.flush();
      return node;
    }
  }
}
