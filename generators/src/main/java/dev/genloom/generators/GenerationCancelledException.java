package dev.genloom.generators;

/** The listener asked to stop between steps; no media is produced. */
public final class GenerationCancelledException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public GenerationCancelledException(int step, int totalSteps) {
    super("generation cancelled after step " + step + " of " + totalSteps);
  }
}
