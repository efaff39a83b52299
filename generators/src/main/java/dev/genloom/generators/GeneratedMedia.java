package dev.genloom.generators;

import java.util.List;

/**
 * What one generation produced.
 *
 * @param frames one image, or the frames of a video in order
 * @param fps frames per second for video (0 for images)
 * @param blockEvaluations denoiser block (or decoder step) evaluations run for this item
 * @param blockSkips block evaluations skipped by caching
 * @param computeMillis wall time of the batched computation this item was part of
 * @param batchSize how many items shared the batched forwards
 * @param truncatedTokens prompt and negative-prompt tokens dropped to fit the text encoder
 */
public record GeneratedMedia(
    List<RgbImage> frames,
    int fps,
    long blockEvaluations,
    long blockSkips,
    long computeMillis,
    int batchSize,
    int truncatedTokens) {

  public GeneratedMedia {
    frames = List.copyOf(frames);
  }

  public boolean isVideo() {
    return frames.size() > 1;
  }
}
