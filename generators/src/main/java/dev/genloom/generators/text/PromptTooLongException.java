package dev.genloom.generators.text;

/** A prompt needs more tokens than the model's tokenizer allows; it is never silently truncated. */
public final class PromptTooLongException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;
  private final int tokens;
  private final int maxLength;

  public PromptTooLongException(int tokens, int maxLength) {
    super(
        "prompt needs "
            + tokens
            + " tokens (special tokens included) but the model's tokenizer allows at most "
            + maxLength);
    this.tokens = tokens;
    this.maxLength = maxLength;
  }

  public int tokens() {
    return tokens;
  }

  public int maxLength() {
    return maxLength;
  }
}
