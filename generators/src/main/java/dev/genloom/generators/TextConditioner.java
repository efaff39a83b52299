package dev.genloom.generators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.genloom.generators.text.PromptTokenizer;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.TensorSpec;
import dev.genloom.proto.v1.TextConditioning;
import dev.genloom.proto.v1.TextEncoderSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A latent-diffusion package's prompt encoders, as its manifest declares them: one or more
 * tokenizer and text-encoder pairs whose hidden states are concatenated into the denoiser's {@code
 * encoder_hidden_states}, optionally a pooled embedding ({@code text_embeds}), the clip skip, and
 * SDXL's zero conditioning for an empty negative prompt. A package without {@code text} has one
 * encoder named {@code text_encoder} fed by the manifest's {@code tokenizer}.
 */
final class TextConditioner implements AutoCloseable {
  static final String INPUT_IDS = "input_ids";
  static final String HIDDEN_LAYER = "hidden_layer";
  static final String POOLED = "pooled";

  /** The conditioning of one batch; rows are unconditional then conditional when guided. */
  record Conditioning(NDArray hiddenStates, NDArray pooled) {}

  private record Encoder(
      TorchComponent component,
      PromptTokenizer tokenizer,
      int hiddenLayer,
      int numHiddenStates,
      int hiddenOutput,
      int pooledOutput) {}

  private final Path manifestFile;
  private final List<Encoder> encoders;
  private final boolean zeroEmptyNegative;
  private final int defaultClipSkip;
  private final boolean pooled;

  private TextConditioner(
      Path manifestFile,
      List<Encoder> encoders,
      boolean zeroEmptyNegative,
      int defaultClipSkip,
      boolean pooled) {
    this.manifestFile = manifestFile;
    this.encoders = encoders;
    this.zeroEmptyNegative = zeroEmptyNegative;
    this.defaultClipSkip = defaultClipSkip;
    this.pooled = pooled;
  }

  /** Reads the declaration and loads the tokenizers; every failure names the manifest or file. */
  static TextConditioner load(ModelPackage pkg, LoadedComponents components) {
    ModelManifest manifest = pkg.manifest();
    Path manifestFile = pkg.root().resolve(ModelPackage.MANIFEST_FILE);
    if (manifest.hasText() && manifest.hasTokenizer()) {
      throw new ModelPackageException(
          manifestFile + ": set either 'text' (text encoders) or 'tokenizer', not both");
    }
    TextConditioning text =
        manifest.hasText()
            ? manifest.getText()
            : TextConditioning.newBuilder()
                .addEncoders(
                    TextEncoderSpec.newBuilder()
                        .setComponent("text_encoder")
                        .setTokenizer(manifest.getTokenizer()))
                .build();
    if (text.getEncodersCount() == 0) {
      throw new ModelPackageException(manifestFile + ": 'text' lists no encoders");
    }
    List<Encoder> encoders = new ArrayList<>();
    try {
      boolean pooledFound = false;
      for (TextEncoderSpec spec : text.getEncodersList()) {
        TorchComponent component = components.get(spec.getComponent());
        Encoder encoder = bind(manifestFile, pkg, component, spec, text.getPooledFrom());
        pooledFound |= encoder.pooledOutput >= 0;
        encoders.add(encoder);
      }
      if (!text.getPooledFrom().isEmpty() && !pooledFound) {
        throw new ModelPackageException(
            manifestFile
                + ": text.pooled_from names '"
                + text.getPooledFrom()
                + "', which is not one of the text encoders");
      }
      if (text.getDefaultClipSkip() < 0) {
        throw new ModelPackageException(manifestFile + ": text.default_clip_skip must be >= 0");
      }
      TextConditioner conditioner =
          new TextConditioner(
              manifestFile,
              List.copyOf(encoders),
              text.getZeroEmptyNegative(),
              text.getDefaultClipSkip(),
              pooledFound);
      conditioner.checkClipSkip(conditioner.defaultClipSkip, "text.default_clip_skip");
      return conditioner;
    } catch (RuntimeException e) {
      encoders.forEach(encoder -> encoder.tokenizer().close());
      throw e;
    }
  }

  private static Encoder bind(
      Path manifestFile,
      ModelPackage pkg,
      TorchComponent component,
      TextEncoderSpec spec,
      String pooledFrom) {
    Component io = component.spec();
    List<String> inputs = io.getInputsList().stream().map(TensorSpec::getName).toList();
    boolean legacy = inputs.size() == 1;
    if (!(legacy || inputs.equals(List.of(INPUT_IDS, HIDDEN_LAYER)))) {
      throw new ModelPackageException(
          manifestFile
              + ": text encoder '"
              + spec.getComponent()
              + "' must take ["
              + INPUT_IDS
              + "] or ["
              + INPUT_IDS
              + ", "
              + HIDDEN_LAYER
              + "], not "
              + inputs);
    }
    if (!legacy && (spec.getHiddenLayer() < 1 || spec.getNumHiddenStates() < 1)) {
      throw new ModelPackageException(
          manifestFile
              + ": text encoder '"
              + spec.getComponent()
              + "' takes hidden_layer, so hidden_layer and num_hidden_states must be >= 1");
    }
    if (spec.getHiddenLayer() > spec.getNumHiddenStates() && !legacy) {
      throw new ModelPackageException(
          manifestFile
              + ": text encoder '"
              + spec.getComponent()
              + "' hidden_layer "
              + spec.getHiddenLayer()
              + " exceeds num_hidden_states "
              + spec.getNumHiddenStates());
    }
    int pooledOutput = -1;
    if (spec.getComponent().equals(pooledFrom)) {
      for (int i = 0; i < io.getOutputsCount(); i++) {
        if (io.getOutputs(i).getName().equals(POOLED)) {
          pooledOutput = i;
        }
      }
      if (pooledOutput < 0) {
        throw new ModelPackageException(
            manifestFile
                + ": text.pooled_from is '"
                + pooledFrom
                + "' but that component has no output named '"
                + POOLED
                + "'");
      }
    }
    PromptTokenizer tokenizer =
        PromptTokenizer.load(pkg.resolve(spec.getTokenizer().getFile()), spec.getTokenizer());
    return new Encoder(
        component,
        tokenizer,
        legacy ? 0 : spec.getHiddenLayer(),
        legacy ? 0 : spec.getNumHiddenStates(),
        0,
        pooledOutput);
  }

  List<PromptTokenizer> tokenizers() {
    return encoders.stream().map(Encoder::tokenizer).toList();
  }

  /** Whether the conditioning includes a pooled embedding ({@code text_embeds}). */
  boolean hasPooled() {
    return pooled;
  }

  int defaultClipSkip() {
    return defaultClipSkip;
  }

  /** Refuses a clip skip the encoders cannot serve; the message names {@code field}. */
  void checkClipSkip(int clipSkip, String field) {
    for (Encoder encoder : encoders) {
      if (clipSkip == 0) {
        continue;
      }
      if (encoder.numHiddenStates() == 0) {
        throw new IllegalArgumentException(
            field
                + ": text encoder '"
                + encoder.component().spec().getName()
                + "' of "
                + manifestFile
                + " returns one layer only, so clip_skip is not available");
      }
      if (encoder.hiddenLayer() + clipSkip > encoder.numHiddenStates()) {
        throw new IllegalArgumentException(
            field
                + ": clip_skip "
                + clipSkip
                + " is too large; text encoder '"
                + encoder.component().spec().getName()
                + "' has "
                + encoder.numHiddenStates()
                + " hidden states, so at most "
                + (encoder.numHiddenStates() - encoder.hiddenLayer()));
      }
    }
  }

  /**
   * Encodes a batch's prompts. With {@code guided} the rows are the negative prompts' then the
   * prompts'; an empty negative prompt gives zero rows when the package asks for it.
   */
  Conditioning encode(NDManager scope, PromptBatch prompts, boolean guided, int clipSkip) {
    checkClipSkip(clipSkip, "clip_skip");
    int batch = prompts.size();
    List<NDArray> hidden = new ArrayList<>();
    NDArray pooledRows = null;
    for (int k = 0; k < encoders.size(); k++) {
      Encoder encoder = encoders.get(k);
      NDList outputs;
      if (guided && clipSkip > 0) {
        // diffusers' encode_prompt applies clip_skip to the prompt only: the negative prompt keeps
        // the encoder's usual layer (SD: last_hidden_state, SDXL: hidden_states[-2]).
        NDList uncond = run(encoder, scope, prompts.uncond(k), 0);
        NDList cond = run(encoder, scope, prompts.cond(k), clipSkip);
        outputs = new NDList();
        for (int o = 0; o < cond.size(); o++) {
          outputs.add(uncond.get(o).concat(cond.get(o), 0));
        }
      } else {
        long[][] rows =
            guided ? PromptBatch.guidedRows(prompts.cond(k), prompts.uncond(k)) : prompts.cond(k);
        outputs = run(encoder, scope, rows, clipSkip);
      }
      hidden.add(outputs.get(encoder.hiddenOutput()));
      if (encoder.pooledOutput() >= 0) {
        pooledRows = outputs.get(encoder.pooledOutput());
      }
    }
    long length = hidden.get(0).getShape().get(1);
    for (NDArray h : hidden) {
      if (h.getShape().get(1) != length) {
        throw new ModelPackageException(
            manifestFile
                + ": the text encoders return sequences of different lengths ("
                + h.getShape()
                + " vs "
                + hidden.get(0).getShape()
                + ")");
      }
    }
    NDArray states = hidden.size() == 1 ? hidden.get(0) : NDArrays.concat(new NDList(hidden), -1);
    if (guided && zeroEmptyNegative) {
      float[] keep = new float[2 * batch];
      boolean any = false;
      for (int b = 0; b < 2 * batch; b++) {
        boolean zero = b < batch && prompts.emptyNegative()[b];
        keep[b] = zero ? 0f : 1f;
        any |= zero;
      }
      if (any) {
        NDArray mask = scope.create(keep);
        states = states.mul(mask.reshape(2 * batch, 1, 1));
        if (pooledRows != null) {
          pooledRows = pooledRows.mul(mask.reshape(2 * batch, 1));
        }
      }
    }
    return new Conditioning(states, pooledRows);
  }

  private static NDList run(Encoder encoder, NDManager scope, long[][] rows, int clipSkip) {
    NDList inputs = new NDList(PromptBatch.ids(scope, rows));
    if (encoder.numHiddenStates() > 0) {
      inputs.add(scope.create(new long[] {encoder.hiddenLayer() + clipSkip}, new Shape(1)));
    }
    return encoder.component().forward(inputs);
  }

  @Override
  public void close() {
    encoders.forEach(encoder -> encoder.tokenizer().close());
  }
}
