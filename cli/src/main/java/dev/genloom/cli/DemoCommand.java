package dev.genloom.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.evaluation.Alignment;
import dev.genloom.evaluation.FeatureNetwork;
import dev.genloom.generators.CacheSpec;
import dev.genloom.generators.GeneratedMedia;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.GoldenCheck;
import dev.genloom.generators.MediaFiles;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import dev.genloom.generators.RgbImage;
import dev.genloom.proto.v1.ModelKind;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code genloom demo}: the end-to-end loop on the embedded default, as far as this build goes:
 * every shipped package is checked against its golden tensors, every generator draws the example
 * prompts (block caching on and off, Token-Shuffle against the plain AR baseline, text-to-video and
 * image-to-video), and shapes-features scores prompt alignment. Per-run metrics, reports and human
 * evaluation are listed as not available yet.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Run the end-to-end loop on the embedded default (CPU, offline): check every model package"
          + " against its golden tensors, generate the example prompts with every shipped"
          + " generator, score prompt alignment with shapes-features, and write the media and a"
          + " summary.json under --out."
    })
final class DemoCommand implements Callable<Integer> {
  /** Largest max-abs error a component may show against its goldens. */
  static final double COMPONENT_TOLERANCE = 1e-4;

  @Mixin ModelsOption modelsOption;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      description = "Output folder (default: ${DEFAULT-VALUE}).",
      defaultValue = "out/demo")
  Path outDir;

  @Option(
      names = "--prompts",
      paramLabel = "FILE",
      description = "Image prompts (default: ${DEFAULT-VALUE}).",
      defaultValue = "examples/prompts.txt")
  Path prompts;

  @Option(
      names = "--video-prompts",
      paramLabel = "FILE",
      description = "Video prompts (default: ${DEFAULT-VALUE}).",
      defaultValue = "examples/video-prompts.txt")
  Path videoPrompts;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  private PrintWriter out;
  private final ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  @Override
  public Integer call() throws IOException {
    out = spec.commandLine().getOut();
    long start = System.nanoTime();
    ModelRepository repository = modelsOption.repository();
    Engine engine = Engine.getEngine("PyTorch");
    out.printf(
        Locale.ROOT,
        "Genloom demo: DJL %s, PyTorch %s on CPU, offline=%s, %d model packages in %s%n%n",
        Engine.getDjlVersion(),
        engine.getVersion(),
        System.getProperty("ai.djl.offline", "false"),
        repository.packages().size(),
        repository.folder());
    boolean ok = checkGoldens(repository);
    Files.createDirectories(outDir);
    ObjectNode summary = mapper.createObjectNode();
    ArrayNode rows = summary.putArray("generations");
    Optional<ModelPackage> featuresPackage = repository.find("shapes-features");
    try (FeatureNetwork features =
        featuresPackage.map(p -> FeatureNetwork.open(p, Device.cpu())).orElse(null)) {
      List<String> imagePrompts = readPrompts(prompts);
      List<String> clipPrompts = readPrompts(videoPrompts);
      out.println("[2/3] Generation (media under " + outDir + ")");
      out.printf(
          Locale.ROOT,
          "  %-16s %-26s %5s %9s %11s %11s  %s%n",
          "model",
          "configuration",
          "n",
          "wall ms",
          "block evals",
          "skipped",
          "aligned");
      for (ModelPackage pkg : repository.packages()) {
        if (pkg.kind() == ModelKind.MODEL_KIND_FEATURES) {
          continue;
        }
        try (Generator generator = Generators.open(pkg, Device.cpu())) {
          for (Run run : runsFor(generator, imagePrompts, clipPrompts)) {
            rows.add(execute(generator, run, features));
          }
        }
      }
    }
    out.println();
    out.println("[3/3] Not available yet in this build (each says so when called):");
    out.println(
        "  the batch pipeline (genloom run), metrics and reports (genloom eval, genloom report),");
    out.println("  human evaluation (genloom humaneval).");
    summary.put("goldens_ok", ok);
    summary.put("wall_seconds", (System.nanoTime() - start) / 1e9);
    Path summaryFile = outDir.resolve("summary.json");
    Files.writeString(summaryFile, mapper.writeValueAsString(summary) + "\n");
    out.printf(
        Locale.ROOT,
        "%nDone in %.1f s. Summary: %s%n",
        (System.nanoTime() - start) / 1e9,
        summaryFile);
    out.flush();
    return ok ? 0 : 1;
  }

  private boolean checkGoldens(ModelRepository repository) {
    out.println("[1/3] Conformance: every TorchScript component against its golden tensors");
    boolean ok = true;
    for (ModelPackage pkg : repository.packages()) {
      List<GoldenCheck.Result> results = GoldenCheck.checkComponents(pkg, Device.cpu());
      double worst = results.stream().mapToDouble(GoldenCheck.Result::maxAbsError).max().orElse(0);
      boolean pass =
          results.size() == pkg.manifest().getComponentsCount() && worst <= COMPONENT_TOLERANCE;
      ok &= pass;
      out.printf(
          Locale.ROOT,
          "  %-16s %2d/%2d components, max abs error %.1e  %s%n",
          pkg.name(),
          results.size(),
          pkg.manifest().getComponentsCount(),
          worst,
          pass ? "ok" : "FAILED");
      out.flush();
    }
    out.println();
    return ok;
  }

  /** One demo configuration of a generator. */
  private record Run(String label, List<GenerationSpec> specs, List<String> prompts) {}

  private List<Run> runsFor(
      Generator generator, List<String> imagePrompts, List<String> clipPrompts) throws IOException {
    List<Run> runs = new ArrayList<>();
    ModelKind kind = generator.pkg().kind();
    if (kind == ModelKind.MODEL_KIND_DIT_VIDEO) {
      List<String> chosen = clipPrompts.subList(0, Math.min(3, clipPrompts.size()));
      runs.add(new Run("text-to-video", specs(generator, chosen, s -> s), chosen));
      Path referenceFile = Path.of("examples", "real-shapes", "real_001.png");
      if (Files.isReadable(referenceFile)) {
        RgbImage reference = MediaFiles.readImage(referenceFile);
        String caption = captionOf(referenceFile).orElse(chosen.get(0));
        String prompt = caption.replace(" on a", " moving right on a");
        runs.add(
            new Run(
                "image-to-video",
                specs(generator, List.of(prompt), s -> s.reference(Optional.of(reference))),
                List.of(prompt)));
      }
      return runs;
    }
    List<String> chosen = imagePrompts.subList(0, Math.min(8, imagePrompts.size()));
    runs.add(new Run(defaultsLabel(generator), specs(generator, chosen, s -> s), chosen));
    if (kind == ModelKind.MODEL_KIND_LATENT_DIFFUSION) {
      GenerationSpec d = generator.defaults("", 0);
      boolean calibrated =
          generator.pkg().manifest().getCacheSchedulesList().stream()
              .anyMatch(s -> s.getSampler().equals(d.sampler()) && s.getSteps() == d.steps());
      if (calibrated) {
        runs.add(
            new Run(
                defaultsLabel(generator) + " cache auto",
                specs(generator, chosen, s -> s.cache(new CacheSpec(CacheSpec.Kind.AUTO, 0))),
                chosen));
      }
    }
    return runs;
  }

  private static String defaultsLabel(Generator generator) {
    GenerationSpec d = generator.defaults("", 0);
    return d.sampler().equals("ar") ? "ar top-k " + d.topK() : d.sampler() + " " + d.steps();
  }

  private static List<GenerationSpec> specs(
      Generator generator,
      List<String> prompts,
      java.util.function.UnaryOperator<GenerationSpec.Builder> edit) {
    List<GenerationSpec> specs = new ArrayList<>();
    for (int i = 0; i < prompts.size(); i++) {
      specs.add(edit.apply(generator.defaults(prompts.get(i), i).toBuilder()).build());
    }
    return specs;
  }

  private ObjectNode execute(Generator generator, Run run, FeatureNetwork features)
      throws IOException {
    long start = System.nanoTime();
    List<GeneratedMedia> media = generator.generate(run.specs(), (s, t, p) -> {});
    long wall = (System.nanoTime() - start) / 1_000_000;
    Path folder =
        outDir
            .resolve(generator.pkg().name())
            .resolve(run.label().replaceAll("[^A-Za-z0-9.-]+", "_"));
    List<RgbImage> frames = new ArrayList<>();
    List<String> framePrompts = new ArrayList<>();
    ArrayNode files = mapper.createArrayNode();
    for (int i = 0; i < media.size(); i++) {
      GeneratedMedia m = media.get(i);
      Path file;
      if (m.isVideo()) {
        file = folder.resolve(String.format(Locale.ROOT, "%02d.mp4", i));
        MediaFiles.writeMp4(m.frames(), m.fps(), file);
        MediaFiles.writePng(
            MediaFiles.contactSheet(m.frames()),
            folder.resolve(String.format(Locale.ROOT, "%02d.png", i)));
      } else {
        file = folder.resolve(String.format(Locale.ROOT, "%02d.png", i));
        MediaFiles.writePng(m.frames().get(0), file);
      }
      files.add(outDir.relativize(file).toString());
      for (RgbImage frame : m.frames()) {
        frames.add(frame);
        framePrompts.add(run.prompts().get(i));
      }
    }
    Alignment alignment = features == null ? null : Alignment.score(features, frames, framePrompts);
    GeneratedMedia first = media.get(0);
    out.printf(
        Locale.ROOT,
        "  %-16s %-26s %5d %9d %11d %11d  %s%n",
        generator.pkg().name(),
        run.label(),
        media.size(),
        wall,
        first.blockEvaluations(),
        first.blockSkips(),
        alignment == null
            ? "-"
            : String.format(Locale.ROOT, "%.0f%%", 100 * alignment.allCorrect()));
    out.flush();
    ObjectNode row = mapper.createObjectNode();
    row.put("model", generator.pkg().name());
    row.put("configuration", run.label());
    row.put("count", media.size());
    row.put("wall_ms", wall);
    row.put("block_evals", first.blockEvaluations());
    row.put("block_skips", first.blockSkips());
    if (alignment != null) {
      row.put("aligned", alignment.allCorrect());
    }
    row.set("media", files);
    return row;
  }

  private static List<String> readPrompts(Path file) throws IOException {
    if (!Files.isReadable(file)) {
      throw new UserException("prompts: cannot read " + file);
    }
    return Files.readAllLines(file).stream()
        .map(String::strip)
        .filter(l -> !l.isEmpty() && !l.startsWith("#"))
        .toList();
  }

  private static Optional<String> captionOf(Path image) throws IOException {
    Path captions = image.resolveSibling("captions.txt");
    if (!Files.isReadable(captions)) {
      return Optional.empty();
    }
    String name = image.getFileName().toString();
    return Files.readAllLines(captions).stream()
        .map(l -> l.split("\t"))
        .filter(p -> p.length == 2 && p[0].equals(name))
        .map(p -> p[1])
        .findFirst();
  }
}
