package dev.genloom.cli;

import dev.genloom.generators.CachePolicies;
import dev.genloom.generators.Calibration;
import dev.genloom.proto.v1.CacheSchedule;
import dev.genloom.proto.v1.ModelManifest;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.OptionalDouble;

/** Prints a package's calibrated block-caching schedules with their measured figures. */
final class ScheduleTable {
  private ScheduleTable() {}

  /**
   * The schedules for {@code sampler}/{@code steps}, or all of them when {@code sampler} is null.
   */
  static void print(ModelManifest manifest, String sampler, int steps, PrintWriter out) {
    out.printf(
        Locale.ROOT,
        "    %-10s %5s %6s %8s %11s %8s %9s %7s%n",
        "sampler",
        "steps",
        "delta",
        "skipped",
        "block share",
        "speedup",
        "PSNR dB",
        "SSIM");
    for (CacheSchedule s : manifest.getCacheSchedulesList()) {
      if (sampler != null && !(s.getSampler().equals(sampler) && s.getSteps() == steps)) {
        continue;
      }
      out.printf(
          Locale.ROOT,
          "    %-10s %5d %6s %7.1f%% %11s %8s %9s %7s%s%n",
          s.getSampler(),
          s.getSteps(),
          s.getDelta(),
          100 * Calibration.skippedFraction(s),
          format(CachePolicies.figure(s, Calibration.BLOCK_EVAL_SHARE), "%.3f"),
          format(CachePolicies.figure(s, Calibration.WALL_SPEEDUP), "%.2fx"),
          format(CachePolicies.figure(s, Calibration.PSNR_DB), "%.2f"),
          format(CachePolicies.figure(s, Calibration.SSIM), "%.4f"),
          s.getIsDefault() ? "  (auto)" : "");
    }
  }

  private static String format(OptionalDouble value, String pattern) {
    return value.isPresent() ? String.format(Locale.ROOT, pattern, value.getAsDouble()) : "-";
  }
}
