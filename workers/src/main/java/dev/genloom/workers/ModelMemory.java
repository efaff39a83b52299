package dev.genloom.workers;

import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.ModelKind;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The model weights a worker takes on: each generation package's component files, which is what its
 * weights occupy once loaded (DJL holds TorchScript weights as stored; a half-precision package is
 * half the size). Admission against the worker's memory limit happens before anything loads.
 */
public final class ModelMemory {
  private ModelMemory() {}

  /**
   * Bytes of each generation package's component files, in the repository's order; a file that
   * several components share (one module, loaded once) counts once.
   */
  public static Map<String, Long> weightBytes(ModelRepository repository) {
    Map<String, Long> bytes = new LinkedHashMap<>();
    for (ModelPackage pkg : repository.packages()) {
      if (pkg.kind() == ModelKind.MODEL_KIND_FEATURES) {
        continue; // feature networks serve evaluation, not generation
      }
      bytes.put(pkg.name(), pkg.componentFileBytes());
    }
    return bytes;
  }

  /**
   * Refuses, naming it, the first package whose weights do not fit under {@code limitBytes}
   * together with the packages before it; 0 is no limit.
   */
  public static void admit(ModelRepository repository, long limitBytes) {
    if (limitBytes <= 0) {
      return;
    }
    long taken = 0;
    StringBuilder before = new StringBuilder();
    for (Map.Entry<String, Long> e : weightBytes(repository).entrySet()) {
      if (taken + e.getValue() > limitBytes) {
        throw new IllegalArgumentException(
            String.format(
                Locale.ROOT,
                "memory-limit: model '%s' needs %s of weights; %s leave %s of the %s limit"
                    + " (raise --memory-limit, or serve it from another worker)",
                e.getKey(),
                gb(e.getValue()),
                before.length() == 0 ? "no other model" : before,
                gb(limitBytes - taken),
                gb(limitBytes)));
      }
      taken += e.getValue();
      if (before.length() > 0) {
        before.append(", ");
      }
      before.append(e.getKey()).append(" (").append(gb(e.getValue())).append(')');
    }
  }

  /** "4.21 GB" from 1 GB up, else "812.3 MB". */
  static String gb(long bytes) {
    return bytes >= 1_000_000_000L
        ? String.format(Locale.ROOT, "%.2f GB", bytes / 1e9)
        : String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
  }
}
