package dev.genloom.generators;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.genloom.generators.text.PromptTokenizer;
import dev.genloom.proto.v1.ArSpec;
import dev.genloom.proto.v1.CfgSchedule;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.SamplerDefaults;
import java.util.ArrayList;
import java.util.List;

/**
 * Autoregressive text-to-image over VQ codes with Token-Shuffle (Ma et al., 2025): a prefill over
 * the text and {@code [BOI]}, then one KV-cached decode per image position, each predicting the
 * {@code s*s} codes of an s x s window. Classifier-free guidance mixes conditional and
 * unconditional logits ({@code u + w (c - u)}) with a constant or linearly rising scale across
 * image positions; then temperature, top-k, top-p and a seeded draw pick each code. Each image
 * position takes its {@code s*s} uniform draws from the item's noise source, in window order.
 */
public final class TokenShuffleAR implements Generator {
  private final ModelPackage pkg;
  private final Device device;
  private final LoadedComponents components;
  private final PromptTokenizer tokenizer;
  private final ArSpec ar;

  TokenShuffleAR(ModelPackage pkg, Device device) {
    this.pkg = pkg;
    this.device = device;
    ModelManifest manifest = pkg.manifest();
    this.tokenizer =
        PromptTokenizer.load(
            pkg.resolve(manifest.getTokenizer().getFile()), manifest.getTokenizer());
    this.ar = manifest.getAr();
    int s = Math.max(1, ar.getShuffleWindow());
    if (ar.getGridHeight() % s != 0 || ar.getGridWidth() % s != 0 || ar.getCodebookSize() < 1) {
      throw new ModelPackageException(
          pkg.root().resolve(ModelPackage.MANIFEST_FILE)
              + ": ar grid "
              + ar.getGridHeight()
              + "x"
              + ar.getGridWidth()
              + " is not divisible by shuffle window "
              + s);
    }
    this.components = LoadedComponents.load(pkg, device);
    try {
      components.get("prefill");
      components.get("decode");
      components.get("vq_decoder");
    } catch (RuntimeException e) {
      tokenizer.close();
      components.close();
      throw e;
    }
  }

  @Override
  public ModelPackage pkg() {
    return pkg;
  }

  /** The package's components, for tests. */
  LoadedComponents components() {
    return components;
  }

  int window() {
    return Math.max(1, ar.getShuffleWindow());
  }

  /** Image positions decoded per image: the grid divided into s x s windows. */
  public int positions() {
    return (ar.getGridHeight() / window()) * (ar.getGridWidth() / window());
  }

  @Override
  public GenerationSpec defaults(String prompt, long seed) {
    SamplerDefaults d = pkg.manifest().getDefaults();
    return GenerationSpec.fromDefaults(d, prompt, seed, "ar").toBuilder()
        .steps(positions())
        .eta(0f)
        .strength(1f)
        .build();
  }

  @Override
  public void validate(GenerationSpec spec) {
    if (!spec.sampler().equals("ar")) {
      throw new IllegalArgumentException(
          "sampler: "
              + pkg.name()
              + " is autoregressive and samples tokens (ar), got '"
              + spec.sampler()
              + "'");
    }
    if (spec.reference().isPresent()) {
      throw new IllegalArgumentException(
          "reference_images: " + pkg.name() + " does not take reference images");
    }
    if (spec.cache().kind() != CacheSpec.Kind.NONE) {
      throw new IllegalArgumentException(
          "cache: " + pkg.name() + " already reuses keys and values; block caching does not apply");
    }
    // [BOI] follows the text, so the text may use one token less than max_length.
    PromptBatch.of(tokenizer, List.of(spec));
    if (spec.width() != 0 || spec.height() != 0) {
      ImageSizes.check(pkg.manifest(), spec.width(), spec.height());
    }
  }

  /** Guidance scale at image position {@code p} of {@code total}. */
  static float guidance(GenerationSpec spec, int p, int total) {
    CfgSchedule schedule = spec.cfgSchedule();
    if (schedule.getShape() == CfgSchedule.Shape.SHAPE_LINEAR && total > 1) {
      float start = schedule.getStart();
      return start + (spec.guidanceScale() - start) * p / (float) (total - 1);
    }
    return spec.guidanceScale();
  }

  @Override
  public List<GeneratedMedia> generate(List<GenerationSpec> batch, ProgressListener progress) {
    Batches.checkCompatible(batch);
    batch.forEach(this::validate);
    long start = System.nanoTime();
    try (NDManager scope = NDManager.newBaseManager(device)) {
      PromptBatch prompts = PromptBatch.of(tokenizer, batch);
      Decoded decoded =
          decode(scope, prompts.cond(), prompts.uncond(), prompts.noise(), batch.get(0), progress);
      NDArray pixels = components.get("vq_decoder").forward(new NDList(decoded.codes())).get(0);
      long millis = (System.nanoTime() - start) / 1_000_000;
      List<GeneratedMedia> media = new ArrayList<>();
      for (int b = 0; b < batch.size(); b++) {
        media.add(
            new GeneratedMedia(
                List.of(RgbImage.fromSymmetric(pixels.get(b))),
                0,
                decoded.forwards(),
                0,
                millis,
                batch.size(),
                prompts.truncated(b)));
      }
      return media;
    }
  }

  /** Code grids [B, H, W] and the number of transformer forwards (prefill + decodes). */
  record Decoded(NDArray codes, long forwards) {}

  Decoded decode(
      NDManager scope,
      long[][] condIds,
      long[][] uncondIds,
      List<NoiseSource> noise,
      GenerationSpec spec,
      ProgressListener progress) {
    int batch = condIds.length;
    boolean guided = spec.guidanceScale() != 1f;
    int rows = guided ? 2 * batch : batch;
    int textLength = condIds[0].length + 1;
    long[] flat = new long[rows * textLength];
    for (int r = 0; r < rows; r++) {
      // Conditional rows first, then unconditional, as the reference sampler batches them.
      long[] ids = r < batch ? condIds[r] : uncondIds[r - batch];
      System.arraycopy(ids, 0, flat, r * textLength, ids.length);
      flat[r * textLength + textLength - 1] = ar.getBoiId();
    }
    NDList state =
        components
            .get("prefill")
            .forward(new NDList(scope.create(flat, new Shape(rows, textLength))));
    int s = window();
    int perStep = s * s;
    int total = positions();
    int gridW = ar.getGridWidth();
    long[][] grid = new long[batch][ar.getGridHeight() * gridW];
    long forwards = 1;
    for (int p = 0; p < total; p++) {
      if (progress.cancelled()) {
        throw new GenerationCancelledException(p, total);
      }
      float[] logits =
          state.get(0).toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
      int k = ar.getCodebookSize();
      float w = guidance(spec, p, total);
      long[] codes = new long[rows * perStep];
      for (int b = 0; b < batch; b++) {
        for (int j = 0; j < perStep; j++) {
          float[] mixed = new float[k];
          int condBase = (b * perStep + j) * k;
          int uncondBase = ((batch + b) * perStep + j) * k;
          for (int c = 0; c < k; c++) {
            mixed[c] =
                guided
                    ? logits[uncondBase + c] + w * (logits[condBase + c] - logits[uncondBase + c])
                    : logits[condBase + c];
          }
          int code =
              TokenSampling.sample(
                  mixed, spec.temperature(), spec.topK(), spec.topP(), noise.get(b).uniform());
          int row = (p / (gridW / s)) * s + j / s;
          int col = (p % (gridW / s)) * s + j % s;
          grid[b][row * gridW + col] = code;
          codes[b * perStep + j] = code;
          if (guided) {
            codes[(batch + b) * perStep + j] = code;
          }
        }
      }
      progress.onStep(p + 1, total, () -> null);
      if (p + 1 < total) {
        NDArray codeArray = scope.create(codes, new Shape(rows, perStep));
        NDArray position = scope.create(new long[] {textLength + p});
        state =
            components
                .get("decode")
                .forward(new NDList(codeArray, position, state.get(1), state.get(2)));
        forwards++;
      }
    }
    long[] all = new long[batch * grid[0].length];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(grid[b], 0, all, b * grid[b].length, grid[b].length);
    }
    NDArray codes = scope.create(all, new Shape(batch, ar.getGridHeight(), gridW));
    return new Decoded(codes, forwards);
  }

  @Override
  public void preload() {
    components.loadAll();
  }

  @Override
  public long residentBytes() {
    return components.residentBytes();
  }

  @Override
  public void close() {
    tokenizer.close();
    components.close();
  }
}
