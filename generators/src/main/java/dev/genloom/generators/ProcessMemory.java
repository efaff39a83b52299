package dev.genloom.generators;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/** This process's resident memory, from {@code /proc/self/status} (Linux); empty elsewhere. */
public final class ProcessMemory {
  private ProcessMemory() {}

  /** Resident now ({@code VmRSS}), in bytes. */
  public static OptionalLong residentBytes() {
    return field("VmRSS:");
  }

  /** The peak so far ({@code VmHWM}), in bytes. */
  public static OptionalLong peakBytes() {
    return field("VmHWM:");
  }

  private static OptionalLong field(String name) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(name)) {
          return OptionalLong.of(Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024L);
        }
      }
    } catch (IOException | NumberFormatException e) {
      return OptionalLong.empty();
    }
    return OptionalLong.empty();
  }
}
