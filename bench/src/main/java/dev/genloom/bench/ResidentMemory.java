package dev.genloom.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's resident memory from {@code /proc/self/status} (Linux), in KiB. */
final class ResidentMemory {
  private ResidentMemory() {}

  /** Resident now ({@code VmRSS}). */
  static long currentKib() throws IOException {
    return field("VmRSS:");
  }

  /** The peak so far ({@code VmHWM}). */
  static long peakKib() throws IOException {
    return field("VmHWM:");
  }

  private static long field(String name) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith(name)) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IOException("/proc/self/status has no " + name + " line");
  }
}
