package dev.genloom.bench;

import dev.genloom.proto.RunLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.apache.beam.sdk.PipelineResult;

/**
 * How a benchmark's pipeline run went in time: it waits for the run to end and notes when the first
 * media file appeared, which is when the first item finished (Beam metrics may only be committed
 * when a bundle ends, so they cannot tell).
 *
 * @param state the terminal state
 * @param firstMediaNanos {@link System#nanoTime} at the first media file, 0 if none appeared
 * @param endNanos {@link System#nanoTime} when the run ended
 */
public record PipelineWatch(PipelineResult.State state, long firstMediaNanos, long endNanos) {

  /** Waits for {@code result}, polling {@code out/media}; {@code onFirstMedia} runs once. */
  public static PipelineWatch await(
      PipelineResult result, Path out, long pollMillis, Runnable onFirstMedia) throws IOException {
    long first = 0;
    while (true) {
      PipelineResult.State state =
          result.waitUntilFinish(org.joda.time.Duration.millis(pollMillis));
      if (first == 0 && anyMedia(out)) {
        first = System.nanoTime();
        onFirstMedia.run();
      }
      if (state != null && state.isTerminal()) {
        return new PipelineWatch(state, first, System.nanoTime());
      }
    }
  }

  private static boolean anyMedia(Path out) throws IOException {
    Path media = out.resolve(RunLayout.MEDIA);
    if (!Files.isDirectory(media)) {
      return false;
    }
    try (Stream<Path> files = Files.list(media)) {
      return files.anyMatch(p -> !p.getFileName().toString().startsWith("."));
    }
  }
}
