package dev.genloom.bench;

/**
 * A benchmark cannot run as it was set up: a setting out of range, or a model package it needs is
 * missing. The message names the setting or the package.
 */
public final class BenchmarkException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public BenchmarkException(String message) {
    super(message);
  }
}
