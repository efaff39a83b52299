package dev.genloom.pipelines;

import java.io.Serializable;

/**
 * One prompt read from an input file.
 *
 * @param source the input file it came from
 * @param line 1-based line number in that file
 * @param id the item's id from the input, or empty
 * @param prompt the text prompt (never empty)
 * @param negativePrompt optional negative prompt, or empty
 * @param referenceImage optional reference image path or URI, or empty
 * @param overrides per-item restrictions and overrides of the launch's configurations
 */
public record PromptItem(
    String source,
    long line,
    String id,
    String prompt,
    String negativePrompt,
    String referenceImage,
    ItemOverrides overrides)
    implements Serializable {

  /** An item that takes every configuration of the launch as it is. */
  public PromptItem(
      String source,
      long line,
      String id,
      String prompt,
      String negativePrompt,
      String referenceImage) {
    this(source, line, id, prompt, negativePrompt, referenceImage, ItemOverrides.NONE);
  }
}
