package dev.genloom.evaluation;

import dev.genloom.generators.RgbImage;
import java.util.List;
import java.util.Optional;

/**
 * Whether a shapes-domain video moves its shape the way the prompt says: the shape's centroid (the
 * pixels that differ from the background, estimated from the frame border) must travel at least
 * {@link #MIN_PIXELS} from the first frame to the last along the prompted direction.
 *
 * @param samples videos whose prompt names a direction
 * @param correct fraction of them that moved the prompted way
 */
public record Motion(int samples, @FiniteOrNull double correct) {
  /** Smallest centroid travel, in pixels, that counts as moving. */
  public static final double MIN_PIXELS = 1.0;

  /** Summed absolute RGB difference from the background above which a pixel is the shape's. */
  static final int FOREGROUND_THRESHOLD = 60;

  public static Motion score(List<List<RgbImage>> videos, List<String> prompts) {
    if (videos.size() != prompts.size()) {
      throw new IllegalArgumentException(
          videos.size() + " videos but " + prompts.size() + " prompts");
    }
    int n = 0;
    int correct = 0;
    for (int i = 0; i < videos.size(); i++) {
      Optional<ShapesPrompt> prompt = ShapesPrompt.parse(prompts.get(i));
      List<RgbImage> frames = videos.get(i);
      if (prompt.isEmpty() || prompt.get().direction().isEmpty() || frames.size() < 2) {
        continue;
      }
      n++;
      double[] first = centroid(frames.get(0));
      double[] last = centroid(frames.get(frames.size() - 1));
      if (first == null || last == null) {
        continue;
      }
      double dx = last[0] - first[0];
      double dy = last[1] - first[1];
      boolean moved =
          switch (prompt.get().direction()) {
            case "right" -> dx >= MIN_PIXELS;
            case "left" -> dx <= -MIN_PIXELS;
            case "down" -> dy >= MIN_PIXELS;
            case "up" -> dy <= -MIN_PIXELS;
            default -> false;
          };
      correct += moved ? 1 : 0;
    }
    return new Motion(n, n == 0 ? Double.NaN : correct / (double) n);
  }

  /** Centroid {x, y} of the shape's pixels, or null when no pixel stands out. */
  static double[] centroid(RgbImage image) {
    int[] background = borderMedian(image);
    double sx = 0;
    double sy = 0;
    int count = 0;
    for (int y = 0; y < image.height(); y++) {
      for (int x = 0; x < image.width(); x++) {
        int diff = 0;
        for (int c = 0; c < 3; c++) {
          diff += Math.abs(image.at(x, y, c) - background[c]);
        }
        if (diff > FOREGROUND_THRESHOLD) {
          sx += x;
          sy += y;
          count++;
        }
      }
    }
    return count == 0 ? null : new double[] {sx / count, sy / count};
  }

  private static int[] borderMedian(RgbImage image) {
    int w = image.width();
    int h = image.height();
    int[] background = new int[3];
    for (int c = 0; c < 3; c++) {
      int[] values = new int[2 * w + 2 * (h - 2)];
      int k = 0;
      for (int x = 0; x < w; x++) {
        values[k++] = image.at(x, 0, c);
        values[k++] = image.at(x, h - 1, c);
      }
      for (int y = 1; y < h - 1; y++) {
        values[k++] = image.at(0, y, c);
        values[k++] = image.at(w - 1, y, c);
      }
      java.util.Arrays.sort(values);
      background[c] = values[values.length / 2];
    }
    return background;
  }
}
