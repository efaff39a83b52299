package dev.genloom.generators;

import java.util.List;

/** Checks on batches handed to a generator. */
final class Batches {
  private Batches() {}

  static void checkCompatible(List<GenerationSpec> batch) {
    if (batch.isEmpty()) {
      throw new IllegalArgumentException("batch: is empty");
    }
    String key = batch.get(0).batchKey();
    for (GenerationSpec spec : batch) {
      if (!spec.batchKey().equals(key)) {
        throw new IllegalArgumentException(
            "batch: specs differ in settings that must agree ("
                + key
                + " vs "
                + spec.batchKey()
                + ")");
      }
    }
  }
}
