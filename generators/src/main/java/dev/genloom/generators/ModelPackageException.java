package dev.genloom.generators;

/**
 * A model package is missing, corrupt, or does not match its manifest. The message names the file.
 */
public final class ModelPackageException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ModelPackageException(String message) {
    super(message);
  }

  public ModelPackageException(String message, Throwable cause) {
    super(message, cause);
  }
}
