package dev.genloom.generators.text;

/**
 * A prompt needs more tokens than the model's tokenizer takes and the request asked for refusal
 * rather than truncation.
 */
public final class PromptTooLongException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;
  private final String field;
  private final int tokens;
  private final int maxLength;

  /**
   * @param field the request field holding the text ("prompt" or "negative_prompt"), which starts
   *     the message
   */
  public PromptTooLongException(String field, int tokens, int maxLength) {
    super(
        field
            + ": needs "
            + tokens
            + " tokens (special tokens included) but the model's tokenizer takes at most "
            + maxLength
            + "; shorten it, or allow truncation (the default)");
    this.field = field;
    this.tokens = tokens;
    this.maxLength = maxLength;
  }

  public String field() {
    return field;
  }

  public int tokens() {
    return tokens;
  }

  public int maxLength() {
    return maxLength;
  }
}
