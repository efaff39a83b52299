package dev.genloom.cli;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.evaluation.ClipScore;
import dev.genloom.evaluation.ConfigMetrics;
import dev.genloom.evaluation.FeatureNetwork;
import dev.genloom.evaluation.FrechetDistance;
import dev.genloom.evaluation.GaussianStats;
import dev.genloom.evaluation.ImageFolder;
import dev.genloom.evaluation.KernelInceptionDistance;
import dev.genloom.evaluation.Reference;
import dev.genloom.evaluation.RunEvaluator;
import dev.genloom.evaluation.RunMetrics;
import dev.genloom.evaluation.StatsFiles;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code genloom eval}: Fréchet distance, statistics files and KID over image folders. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    subcommands = {
      EvalCommand.Fid.class,
      EvalCommand.Stats.class,
      EvalCommand.Kid.class,
      EvalCommand.Extract.class,
      EvalCommand.Run.class
    },
    description = {
      "Metrics over generated sets. Numbers are only comparable to published FID when the"
          + " features are pytorch-fid's Inception (see docs/MODELS.md); shapes-features is a"
          + " domain-specific feature network for the shipped shapes models."
    })
final class EvalCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Shared: the feature network option. */
  static final class FeaturesOption {
    @Mixin ModelsOption modelsOption;

    @Option(
        names = "--features",
        paramLabel = "NAME",
        description = "Feature package (default: ${DEFAULT-VALUE}).",
        defaultValue = "shapes-features")
    String features;

    FeatureNetwork open() {
      ModelRepository repository = modelsOption.repository();
      ModelPackage pkg =
          repository
              .find(features)
              .orElseThrow(
                  () ->
                      new UserException(
                          "features: no package '" + features + "' in " + repository.folder()));
      return FeatureNetwork.open(pkg, Device.cpu());
    }

    String comparability() {
      return features.contains("inception")
          ? "pytorch-fid Inception pool3 features: comparable to published FID when the reference statistics come from the same setup"
          : "domain features, not comparable to published FID (which needs pytorch-fid's Inception)";
    }
  }

  /** Sample counts are unknown (0) for statistics loaded from .npz files. */
  static String count(int samples) {
    return samples > 0 ? Integer.toString(samples) : "unknown";
  }

  static void putCount(ObjectNode node, String field, int samples) {
    if (samples > 0) {
      node.put(field, samples);
    } else {
      node.putNull(field);
    }
  }

  static GaussianStats stats(Path path, FeatureNetwork network, PrintWriter err) {
    GaussianStats stats;
    if (path.toString().endsWith(".npz")) {
      stats = StatsFiles.load(path);
    } else {
      stats = GaussianStats.fromFeatures(network.run(ImageFolder.read(path)).features());
    }
    if (stats.rankDeficient()) {
      err.printf(
          Locale.ROOT,
          "warning: %s has %d samples for %d-dimensional features; its covariance is rank-deficient and the distance is biased%n",
          path,
          stats.samples(),
          stats.dimension());
    }
    return stats;
  }

  @Command(
      name = "fid",
      mixinStandardHelpOptions = true,
      description = "Fréchet distance between two image folders or .npz statistics.")
  static final class Fid implements Callable<Integer> {
    @Mixin FeaturesOption features;

    @Option(
        names = "--a",
        required = true,
        paramLabel = "PATH",
        description = "Image folder or .npz statistics (mu, sigma).")
    Path a;

    @Option(
        names = "--b",
        required = true,
        paramLabel = "PATH",
        description = "Image folder or .npz statistics (mu, sigma).")
    Path b;

    @Option(
        names = "--json",
        description = "Print {\"fid\", \"n_a\", \"n_b\", \"features\"} as one JSON line.")
    boolean json;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      try (FeatureNetwork network = features.open()) {
        GaussianStats sa = stats(a, network, err);
        GaussianStats sb = stats(b, network, err);
        double fid = FrechetDistance.between(sa, sb);
        if (json) {
          ObjectNode line = new ObjectMapper().createObjectNode();
          line.put("fid", fid);
          putCount(line, "n_a", sa.samples());
          putCount(line, "n_b", sb.samples());
          line.put("features", features.features);
          line.put("preprocessing", network.describe());
          out.println(line);
        } else {
          out.printf(
              Locale.ROOT,
              "FD %.6f  (n_a=%s, n_b=%s)%n",
              fid,
              count(sa.samples()),
              count(sb.samples()));
          out.println("features: " + network.describe());
          out.println("note: " + features.comparability());
        }
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      out.flush();
      err.flush();
      return 0;
    }
  }

  @Command(
      name = "stats",
      mixinStandardHelpOptions = true,
      description = "Save pytorch-fid statistics (mu, sigma) of an image folder as .npz.")
  static final class Stats implements Callable<Integer> {
    @Mixin FeaturesOption features;

    @Option(names = "--images", required = true, paramLabel = "DIR", description = "Image folder.")
    Path images;

    @Option(names = "--out", required = true, paramLabel = "NPZ", description = "Output .npz file.")
    Path out;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
      try (FeatureNetwork network = features.open()) {
        GaussianStats stats = stats(images, network, spec.commandLine().getErr());
        StatsFiles.save(stats, out);
        spec.commandLine()
            .getOut()
            .printf(
                Locale.ROOT,
                "wrote %s: %d images, %d-d %s%n",
                out,
                stats.samples(),
                stats.dimension(),
                network.describe());
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      spec.commandLine().getOut().flush();
      return 0;
    }
  }

  @Command(
      name = "kid",
      mixinStandardHelpOptions = true,
      description =
          "Kernel Inception Distance (cubic kernel, seeded subsets) between two image folders.")
  static final class Kid implements Callable<Integer> {
    @Mixin FeaturesOption features;

    @Option(names = "--a", required = true, paramLabel = "DIR", description = "Image folder.")
    Path a;

    @Option(names = "--b", required = true, paramLabel = "DIR", description = "Image folder.")
    Path b;

    @Option(
        names = "--subsets",
        paramLabel = "N",
        description = "Subsets (default: ${DEFAULT-VALUE}).",
        defaultValue = "100")
    int subsets;

    @Option(
        names = "--subset-size",
        paramLabel = "M",
        description = "Rows per subset, at most (default: ${DEFAULT-VALUE}).",
        defaultValue = "1000")
    int subsetSize;

    @Option(
        names = "--seed",
        paramLabel = "S",
        description = "Subset seed (default: ${DEFAULT-VALUE}).",
        defaultValue = "0")
    long seed;

    @Option(names = "--json", description = "Print one JSON line.")
    boolean json;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (FeatureNetwork network = features.open()) {
        float[][] fa = network.run(ImageFolder.read(a)).features();
        float[][] fb = network.run(ImageFolder.read(b)).features();
        KernelInceptionDistance kid =
            KernelInceptionDistance.compute(fa, fb, subsets, subsetSize, seed);
        if (json) {
          ObjectNode line = new ObjectMapper().createObjectNode();
          line.put("kid_mean", kid.mean());
          line.put("kid_std", kid.std());
          line.put("subsets", kid.subsets());
          line.put("subset_size", kid.subsetSize());
          line.put("n_a", fa.length);
          line.put("n_b", fb.length);
          line.put("features", features.features);
          out.println(line);
        } else {
          out.printf(
              Locale.ROOT,
              "KID %.6f ± %.6f  (%d subsets of %d; n_a=%d, n_b=%d)%n",
              kid.mean(),
              kid.std(),
              kid.subsets(),
              kid.subsetSize(),
              fa.length,
              fb.length);
          out.println("features: " + network.describe());
        }
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "run",
      mixinStandardHelpOptions = true,
      description = {
        "Every metric per configuration of a pipeline run (genloom run --out DIR): counts, wall"
            + " time, block caching savings, FD and KID against a reference, prompt alignment, CLIP"
            + " score and, for videos, motion. Writes DIR/metrics.json."
      })
  static final class Run implements Callable<Integer> {
    @Mixin FeaturesOption features;

    @Option(
        names = "--run",
        required = true,
        paramLabel = "DIR",
        description = "Output folder of a pipeline run (holds manifest.jsonl).")
    Path run;

    @Option(
        names = "--reference",
        paramLabel = "DIR|NPZ",
        description =
            "Real images, or .npz statistics (mu, sigma, optional features for KID). Default: the"
                + " feature package's reference_stats.npz.")
    Path reference;

    @Option(
        names = "--clip",
        paramLabel = "NAME",
        description =
            "CLIP-style package for CLIP score (default: ${DEFAULT-VALUE} when present; 'none'"
                + " skips it).",
        defaultValue = "shapes-clip")
    String clip;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    private ClipScore openClip() {
      if (clip.equals("none")) {
        return null;
      }
      var pkg = features.modelsOption.repository().find(clip);
      if (pkg.isEmpty()) {
        if (clip.equals("shapes-clip")) {
          return null; // the default is optional
        }
        throw new UserException("clip: no package '" + clip + "'");
      }
      if (!ClipScore.isClip(pkg.get())) {
        throw new UserException("clip: '" + clip + "' has no clip_image/clip_text components");
      }
      return ClipScore.open(pkg.get(), ai.djl.Device.cpu());
    }

    @Override
    public Integer call() throws IOException {
      PrintWriter out = spec.commandLine().getOut();
      try (FeatureNetwork network = features.open();
          ClipScore clipScore = openClip()) {
        Path ref = reference != null ? reference : defaultReference();
        out.println("features:  " + network.describe());
        out.println("reference: " + ref);
        out.flush();
        Reference loaded = Reference.load(ref, network);
        if (clipScore != null) {
          out.println("clip:      " + clipScore.name());
        }
        RunEvaluator evaluator =
            new RunEvaluator(
                network,
                loaded,
                clipScore,
                line -> {
                  out.println("  " + line);
                  out.flush();
                });
        RunMetrics metrics = evaluator.evaluate(run);
        Path file = metrics.write(run);
        printTable(out, metrics);
        out.println("wrote " + file);
        if (!loaded.hasFeatures()) {
          out.println("note: the reference has no per-image features, so KID was not computed");
        }
        out.println("note: " + features.comparability());
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      out.flush();
      return 0;
    }

    private Path defaultReference() {
      Path stats =
          features.modelsOption.folder().resolve(features.features).resolve("reference_stats.npz");
      if (!Files.isRegularFile(stats)) {
        throw new UserException("reference: no --reference given and " + stats + " does not exist");
      }
      return stats;
    }

    static void printTable(PrintWriter out, RunMetrics metrics) {
      out.printf(
          Locale.ROOT,
          "%n  %-28s %6s %6s %9s %8s %8s %9s %10s %8s %8s%n",
          "configuration",
          "items",
          "failed",
          "ms/item",
          "saved",
          "speedup",
          "FD",
          "KID",
          "aligned",
          "motion");
      for (ConfigMetrics c : metrics.configs()) {
        out.printf(
            Locale.ROOT,
            "  %-28s %6d %6d %9.0f %7.1f%% %7.2fx %9.2f %10.4f %7.1f%% %8s%n",
            c.id(),
            c.items(),
            c.failed(),
            c.wallMsMedian(),
            100 * c.blockSaved(),
            c.speedup(),
            c.fd(),
            c.kidMean(),
            100 * c.alignment().allCorrect(),
            c.motion() == null
                ? "-"
                : String.format(Locale.ROOT, "%.1f%%", 100 * c.motion().correct()));
      }
      out.println();
    }
  }

  @Command(
      name = "extract",
      mixinStandardHelpOptions = true,
      description = {
        "Statistics (mu, sigma) of a large image set as a Beam pipeline: images matching PATTERN"
            + " (local or gs://, e.g. 'gs://bucket/images/*.png') go through the feature network"
            + " on the Beam workers; two-pass float64 mean and covariance; the .npz is written"
            + " through Beam FileSystems. Runs on the DirectRunner unless Beam options say"
            + " otherwise (--runner=FlinkRunner --flinkMaster=..., --runner=DataflowRunner ...);"
            + " remote workers need the model packages at the same --models path."
      })
  static final class Extract implements Callable<Integer> {
    @Mixin FeaturesOption features;

    @Option(
        names = "--images",
        required = true,
        paramLabel = "PATTERN",
        description = "Image file pattern, or a local folder (its *.png files).")
    String images;

    @Option(names = "--out", required = true, paramLabel = "NPZ", description = "Output .npz.")
    String out;

    @picocli.CommandLine.Unmatched List<String> beamOptions = new java.util.ArrayList<>();

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      BeamArgs.check(beamOptions);
      String pattern = images;
      if (Files.isDirectory(Path.of(images))) {
        pattern = Path.of(images).toAbsolutePath() + "/*.png";
      }
      org.apache.beam.sdk.Pipeline pipeline =
          org.apache.beam.sdk.Pipeline.create(
              org.apache.beam.sdk.options.PipelineOptionsFactory.fromArgs(
                      beamOptions.toArray(String[]::new))
                  .withValidation()
                  .create());
      dev.genloom.evaluation.beam.FeatureStatsPipeline.build(
          pipeline,
          pattern,
          features.modelsOption.folder().toAbsolutePath(),
          features.features,
          out);
      org.apache.beam.sdk.PipelineResult.State state;
      try {
        state = pipeline.run().waitUntilFinish();
      } catch (RuntimeException e) {
        throw new UserException("extract: " + rootMessage(e));
      }
      PrintWriter o = spec.commandLine().getOut();
      o.println(
          state + ": wrote " + out + " (" + features.features + " features of " + pattern + ")");
      o.flush();
      return state == org.apache.beam.sdk.PipelineResult.State.DONE ? 0 : 1;
    }

    private static String rootMessage(Throwable e) {
      Throwable t = e;
      while (t.getCause() != null) {
        t = t.getCause();
      }
      return t.getMessage() == null ? t.toString() : t.getMessage();
    }
  }
}
