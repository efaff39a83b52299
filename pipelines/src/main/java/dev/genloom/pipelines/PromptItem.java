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
 */
public record PromptItem(
    String source,
    long line,
    String id,
    String prompt,
    String negativePrompt,
    String referenceImage)
    implements Serializable {}
