package dev.genloom.generators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.genloom.generators.text.WordLevelTokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * The per-item inputs of one batched generation: conditional and unconditional token ids and one
 * seeded noise stream per item.
 */
record PromptBatch(long[][] cond, long[][] uncond, List<NoiseSource> noise) {

  static PromptBatch of(WordLevelTokenizer tokenizer, List<GenerationSpec> specs) {
    long[][] cond = new long[specs.size()][];
    long[][] uncond = new long[specs.size()][];
    List<NoiseSource> noise = new ArrayList<>();
    for (int b = 0; b < specs.size(); b++) {
      cond[b] = tokenizer.encode(specs.get(b).prompt());
      uncond[b] = tokenizer.encode(specs.get(b).negativePrompt());
      noise.add(NoiseSource.seeded(specs.get(b).seed()));
    }
    return new PromptBatch(cond, uncond, noise);
  }

  /** Rows for classifier-free guidance: unconditional first, then conditional. */
  static long[][] guidedRows(long[][] cond, long[][] uncond) {
    long[][] rows = new long[2 * cond.length][];
    System.arraycopy(uncond, 0, rows, 0, uncond.length);
    System.arraycopy(cond, 0, rows, uncond.length, cond.length);
    return rows;
  }

  /** Runs a text encoder on token-id rows of equal length. */
  static NDArray encode(TorchComponent textEncoder, NDManager scope, long[][] ids) {
    int length = ids[0].length;
    long[] flat = new long[ids.length * length];
    for (int b = 0; b < ids.length; b++) {
      System.arraycopy(ids[b], 0, flat, b * length, length);
    }
    return textEncoder
        .forward(new NDList(scope.create(flat, new Shape(ids.length, length))))
        .get(0);
  }

  /** One draw of {@code itemShape} per item, concatenated along the batch. */
  static NDArray gaussians(NDManager scope, List<NoiseSource> noise, Shape itemShape) {
    NDList parts = new NDList();
    for (NoiseSource source : noise) {
      parts.add(source.gaussian(scope, itemShape));
    }
    return parts.size() == 1 ? parts.get(0) : ai.djl.ndarray.NDArrays.concat(parts, 0);
  }
}
