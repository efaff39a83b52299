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
 * tokenizer and text-encoder pairs whose hidden states are concatenated along the features into the
 * denoiser's {@code encoder_hidden_states}, optionally zero-padded to a context width with one more
 * encoder's states appended along the sequence (SD3: two CLIPs, then T5), optionally a pooled
 * embedding ({@code text_embeds}) from one encoder or several concatenated, the clip skip, and
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
      int pooledOutput,
      boolean sequence,
      boolean pooledOnly) {}

  private final Path manifestFile;
  private final List<Encoder> encoders;
  private final boolean zeroEmptyNegative;
  private final int defaultClipSkip;

  /** Indexes into {@link #encoders} whose pooled outputs make {@code text_embeds}, in order. */
  private final List<Integer> pooledEncoders;

  private final int contextDim;
  private final int zeroContextLength;

  private TextConditioner(
      Path manifestFile,
      List<Encoder> encoders,
      boolean zeroEmptyNegative,
      int defaultClipSkip,
      List<Integer> pooledEncoders,
      int contextDim,
      int zeroContextLength) {
    this.manifestFile = manifestFile;
    this.encoders = encoders;
    this.zeroEmptyNegative = zeroEmptyNegative;
    this.defaultClipSkip = defaultClipSkip;
    this.pooledEncoders = pooledEncoders;
    this.contextDim = contextDim;
    this.zeroContextLength = zeroContextLength;
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
    if (!text.getPooledFrom().isEmpty() && text.getPooledComponentsCount() > 0) {
      throw new ModelPackageException(
          manifestFile + ": set either text.pooled_from or text.pooled_components, not both");
    }
    List<String> pooledNames =
        text.getPooledFrom().isEmpty()
            ? List.copyOf(text.getPooledComponentsList())
            : List.of(text.getPooledFrom());
    List<Encoder> encoders = new ArrayList<>();
    try {
      List<String> names = new ArrayList<>();
      for (TextEncoderSpec spec : text.getEncodersList()) {
        TorchComponent component = components.get(spec.getComponent());
        encoders.add(bind(manifestFile, pkg, component, spec, pooledNames));
        names.add(spec.getComponent());
      }
      List<Integer> pooledEncoders = new ArrayList<>();
      for (String name : pooledNames) {
        int index = names.indexOf(name);
        if (index < 0) {
          throw new ModelPackageException(
              manifestFile
                  + ": text."
                  + (text.getPooledFrom().isEmpty() ? "pooled_components" : "pooled_from")
                  + " names '"
                  + name
                  + "', which is not one of the text encoders");
        }
        pooledEncoders.add(index);
      }
      checkLayout(manifestFile, text, encoders);
      if (text.getDefaultClipSkip() < 0) {
        throw new ModelPackageException(manifestFile + ": text.default_clip_skip must be >= 0");
      }
      TextConditioner conditioner =
          new TextConditioner(
              manifestFile,
              List.copyOf(encoders),
              text.getZeroEmptyNegative(),
              text.getDefaultClipSkip(),
              List.copyOf(pooledEncoders),
              text.getContextDim(),
              text.getZeroContextLength());
      conditioner.checkClipSkip(conditioner.defaultClipSkip, "text.default_clip_skip");
      return conditioner;
    } catch (RuntimeException e) {
      encoders.forEach(encoder -> encoder.tokenizer().close());
      throw e;
    }
  }

  /** The sequence join: at most one such encoder, last, with a context width to pad to. */
  private static void checkLayout(
      Path manifestFile, TextConditioning text, List<Encoder> encoders) {
    long sequence = encoders.stream().filter(Encoder::sequence).count();
    if (sequence > 1 || (sequence == 1 && !encoders.get(encoders.size() - 1).sequence())) {
      throw new ModelPackageException(
          manifestFile + ": text may have one JOIN_SEQUENCE encoder at most, listed last");
    }
    if (encoders.stream().noneMatch(e -> !e.sequence() && !e.pooledOnly())) {
      throw new ModelPackageException(
          manifestFile
              + ": text needs a JOIN_FEATURES encoder, whose states condition the denoiser");
    }
    if (text.getContextDim() < 0 || text.getZeroContextLength() < 0) {
      throw new ModelPackageException(
          manifestFile + ": text.context_dim and text.zero_context_length must be >= 0");
    }
    if (sequence == 1 && text.getZeroContextLength() > 0) {
      throw new ModelPackageException(
          manifestFile
              + ": text.zero_context_length stands in for a missing JOIN_SEQUENCE encoder; this"
              + " package has one");
    }
    boolean joins = sequence == 1 || text.getZeroContextLength() > 0;
    if (joins != (text.getContextDim() > 0)) {
      throw new ModelPackageException(
          manifestFile
              + ": text.context_dim is set exactly when an encoder joins along the sequence or"
              + " text.zero_context_length is set");
    }
  }

  private static Encoder bind(
      Path manifestFile,
      ModelPackage pkg,
      TorchComponent component,
      TextEncoderSpec spec,
      List<String> pooledNames) {
    Component io = component.spec();
    List<String> inputs = io.getInputsList().stream().map(TensorSpec::getName).toList();
    boolean legacy = inputs.size() == 1;
    boolean sequence = spec.getJoin() == TextEncoderSpec.Join.JOIN_SEQUENCE;
    boolean pooledOnly = spec.getJoin() == TextEncoderSpec.Join.JOIN_NONE;
    if (pooledOnly && !pooledNames.contains(spec.getComponent())) {
      throw new ModelPackageException(
          manifestFile
              + ": text encoder '"
              + spec.getComponent()
              + "' is JOIN_NONE (only its pooled output is used), so text.pooled_from or"
              + " text.pooled_components must name it");
    }
    if (spec.getJoin() == TextEncoderSpec.Join.UNRECOGNIZED) {
      throw new ModelPackageException(
          manifestFile + ": text encoder '" + spec.getComponent() + "' has an unknown join");
    }
    if (sequence
        && (!inputs.equals(List.of(INPUT_IDS))
            || spec.getHiddenLayer() != 0
            || spec.getNumHiddenStates() != 0)) {
      throw new ModelPackageException(
          manifestFile
              + ": text encoder '"
              + spec.getComponent()
              + "' joins along the sequence, so it takes ["
              + INPUT_IDS
              + "] only and has no hidden_layer or num_hidden_states");
    }
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
    if (pooledNames.contains(spec.getComponent())) {
      for (int i = 0; i < io.getOutputsCount(); i++) {
        if (io.getOutputs(i).getName().equals(POOLED)) {
          pooledOutput = i;
        }
      }
      if (pooledOutput < 0) {
        throw new ModelPackageException(
            manifestFile
                + ": text names '"
                + spec.getComponent()
                + "' for the pooled embedding, but that component has no output named '"
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
        pooledOutput,
        sequence,
        pooledOnly);
  }

  List<PromptTokenizer> tokenizers() {
    return encoders.stream().map(Encoder::tokenizer).toList();
  }

  /** Whether the conditioning includes a pooled embedding ({@code text_embeds}). */
  boolean hasPooled() {
    return !pooledEncoders.isEmpty();
  }

  int defaultClipSkip() {
    return defaultClipSkip;
  }

  /** Refuses a clip skip the encoders cannot serve; the message names {@code field}. */
  void checkClipSkip(int clipSkip, String field) {
    for (Encoder encoder : encoders) {
      if (clipSkip == 0 || encoder.sequence() || encoder.pooledOnly()) {
        continue; // T5 always gives its last state; a pooled embedding comes from the last layer
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
    NDArray appended = null;
    NDArray[] pooledOf = new NDArray[encoders.size()];
    for (int k = 0; k < encoders.size(); k++) {
      Encoder encoder = encoders.get(k);
      NDList outputs;
      int skip = encoder.pooledOnly() ? 0 : clipSkip;
      if (guided && skip > 0) {
        // diffusers' encode_prompt applies clip_skip to the prompt only: the negative prompt keeps
        // the encoder's usual layer (SD: last_hidden_state, SDXL: hidden_states[-2]).
        NDList uncond = run(encoder, scope, prompts.uncond(k), 0);
        NDList cond = run(encoder, scope, prompts.cond(k), skip);
        outputs = new NDList();
        for (int o = 0; o < cond.size(); o++) {
          outputs.add(uncond.get(o).concat(cond.get(o), 0));
        }
      } else {
        long[][] rows =
            guided ? PromptBatch.guidedRows(prompts.cond(k), prompts.uncond(k)) : prompts.cond(k);
        outputs = run(encoder, scope, rows, skip);
      }
      if (encoder.sequence()) {
        appended = outputs.get(encoder.hiddenOutput());
      } else if (!encoder.pooledOnly()) {
        hidden.add(outputs.get(encoder.hiddenOutput()));
      }
      if (encoder.pooledOutput() >= 0) {
        pooledOf[k] = outputs.get(encoder.pooledOutput());
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
    if (contextDim > 0) {
      states = joinSequence(scope, states, appended);
    }
    NDArray pooledRows = null;
    if (!pooledEncoders.isEmpty()) {
      NDList parts = new NDList();
      pooledEncoders.forEach(k -> parts.add(pooledOf[k]));
      pooledRows = parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, -1);
    }
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

  /**
   * SD3's layout: the feature-joined states zero-padded to {@code context_dim} features, then the
   * sequence encoder's states (or {@code zero_context_length} rows of zeros) along the sequence.
   */
  private NDArray joinSequence(NDManager scope, NDArray states, NDArray appended) {
    Shape shape = states.getShape();
    long rows = shape.get(0);
    long width = shape.get(2);
    if (width > contextDim) {
      throw new ModelPackageException(
          manifestFile
              + ": the feature-joined text encoders give "
              + width
              + " features, more than text.context_dim "
              + contextDim);
    }
    NDList parts = new NDList(states);
    if (width < contextDim) {
      parts.add(scope.zeros(new Shape(rows, shape.get(1), contextDim - width)));
    }
    NDArray padded = parts.size() == 1 ? states : NDArrays.concat(parts, -1);
    if (appended == null) {
      appended = scope.zeros(new Shape(rows, zeroContextLength, contextDim));
    } else if (appended.getShape().get(2) != contextDim) {
      throw new ModelPackageException(
          manifestFile
              + ": the sequence-joined text encoder gives "
              + appended.getShape().get(2)
              + " features, not text.context_dim "
              + contextDim);
    }
    return padded.concat(appended, 1);
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
