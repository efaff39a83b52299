package dev.genloom.generators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.genloom.generators.text.PromptTokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * The per-item inputs of one batched generation: the prompt's and the negative prompt's token ids
 * for each of the package's tokenizers, the tokens truncation dropped, and one seeded noise stream
 * per item.
 *
 * @param condRows per tokenizer, one row of ids per item
 * @param uncondRows per tokenizer, the negative prompts' rows
 * @param emptyNegative per item, whether its negative prompt is empty
 * @param truncated per item, tokens dropped from its prompt and negative prompt (the largest count
 *     over the tokenizers)
 * @param noise per item, its noise stream
 */
record PromptBatch(
    List<long[][]> condRows,
    List<long[][]> uncondRows,
    boolean[] emptyNegative,
    int[] truncated,
    List<NoiseSource> noise) {

  static PromptBatch of(PromptTokenizer tokenizer, List<GenerationSpec> specs) {
    return of(List.of(tokenizer), specs);
  }

  /** Tokenizes every spec; a spec that refuses truncation fails naming its field. */
  static PromptBatch of(List<PromptTokenizer> tokenizers, List<GenerationSpec> specs) {
    int n = specs.size();
    List<long[][]> cond = new ArrayList<>();
    List<long[][]> uncond = new ArrayList<>();
    boolean[] emptyNegative = new boolean[n];
    int[] truncated = new int[n];
    for (PromptTokenizer tokenizer : tokenizers) {
      long[][] c = new long[n][];
      long[][] u = new long[n][];
      for (int b = 0; b < n; b++) {
        GenerationSpec spec = specs.get(b);
        PromptTokenizer.Encoded prompt =
            tokenizer.encode(spec.prompt(), spec.refuseTruncation(), "prompt");
        PromptTokenizer.Encoded negative =
            tokenizer.encode(spec.negativePrompt(), spec.refuseTruncation(), "negative_prompt");
        c[b] = prompt.ids();
        u[b] = negative.ids();
        truncated[b] = Math.max(truncated[b], prompt.droppedTokens() + negative.droppedTokens());
      }
      cond.add(c);
      uncond.add(u);
    }
    List<NoiseSource> noise = new ArrayList<>();
    for (int b = 0; b < n; b++) {
      emptyNegative[b] = specs.get(b).negativePrompt().isEmpty();
      noise.add(NoiseSource.seeded(specs.get(b).seed()));
    }
    return new PromptBatch(List.copyOf(cond), List.copyOf(uncond), emptyNegative, truncated, noise);
  }

  /**
   * A single-tokenizer batch from recorded ids and noise (conformance runs), with non-empty
   * negative prompts and nothing truncated.
   */
  static PromptBatch ofRows(long[][] cond, long[][] uncond, List<NoiseSource> noise) {
    List<long[][]> c = new ArrayList<>();
    c.add(cond);
    List<long[][]> u = new ArrayList<>();
    u.add(uncond);
    return new PromptBatch(c, u, new boolean[cond.length], new int[cond.length], noise);
  }

  /** The first tokenizer's prompt rows (single-encoder generators). */
  long[][] cond() {
    return condRows.get(0);
  }

  /** The first tokenizer's negative-prompt rows. */
  long[][] uncond() {
    return uncondRows.get(0);
  }

  long[][] cond(int tokenizer) {
    return condRows.get(tokenizer);
  }

  long[][] uncond(int tokenizer) {
    return uncondRows.get(tokenizer);
  }

  int size() {
    return noise.size();
  }

  /** The same items with other token ids (a conformance run replaying recorded ids). */
  PromptBatch withRows(List<long[][]> cond, List<long[][]> uncond) {
    return new PromptBatch(List.copyOf(cond), List.copyOf(uncond), emptyNegative, truncated, noise);
  }

  /** The same items and ids with other noise streams. */
  PromptBatch withNoise(List<NoiseSource> replacement) {
    return new PromptBatch(
        condRows, uncondRows, emptyNegative, truncated, List.copyOf(replacement));
  }

  int truncated(int item) {
    return truncated[item];
  }

  /** Rows for classifier-free guidance: unconditional first, then conditional. */
  static long[][] guidedRows(long[][] cond, long[][] uncond) {
    long[][] rows = new long[2 * cond.length][];
    System.arraycopy(uncond, 0, rows, 0, uncond.length);
    System.arraycopy(cond, 0, rows, uncond.length, cond.length);
    return rows;
  }

  /** Token-id rows of equal length as an int64 [rows, length] tensor. */
  static NDArray ids(NDManager scope, long[][] ids) {
    int length = ids[0].length;
    long[] flat = new long[ids.length * length];
    for (int b = 0; b < ids.length; b++) {
      System.arraycopy(ids[b], 0, flat, b * length, length);
    }
    return scope.create(flat, new Shape(ids.length, length));
  }

  /** Runs a single-input text encoder on token-id rows; returns its first output. */
  static NDArray encode(TorchComponent textEncoder, NDManager scope, long[][] ids) {
    return textEncoder.forward(new NDList(ids(scope, ids))).get(0);
  }

  /** One draw of {@code itemShape} per item, concatenated along the batch. */
  static NDArray gaussians(NDManager scope, List<NoiseSource> noise, Shape itemShape) {
    NDList parts = new NDList();
    for (NoiseSource source : noise) {
      parts.add(source.gaussian(scope, itemShape));
    }
    return parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 0);
  }
}
