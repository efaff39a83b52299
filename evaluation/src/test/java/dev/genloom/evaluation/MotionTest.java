package dev.genloom.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.generators.RgbImage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MotionTest {
  /** A 6x6 white square at (x, y) on a blue 32x32 background. */
  private static RgbImage square(int x0, int y0) {
    byte[] rgb = new byte[32 * 32 * 3];
    for (int y = 0; y < 32; y++) {
      for (int x = 0; x < 32; x++) {
        boolean inside = x >= x0 && x < x0 + 6 && y >= y0 && y < y0 + 6;
        int i = (y * 32 + x) * 3;
        rgb[i] = (byte) (inside ? 245 : 30);
        rgb[i + 1] = (byte) (inside ? 245 : 60);
        rgb[i + 2] = (byte) (inside ? 245 : 220);
      }
    }
    return new RgbImage(32, 32, rgb);
  }

  private static List<RgbImage> moving(int dx, int dy) {
    List<RgbImage> frames = new ArrayList<>();
    for (int f = 0; f < 8; f++) {
      frames.add(square(12 + dx * f, 12 + dy * f));
    }
    return frames;
  }

  @Test
  void centroidFollowsTheShape() {
    double[] c = Motion.centroid(square(4, 10));
    assertEquals(6.5, c[0], 1e-9);
    assertEquals(12.5, c[1], 1e-9);
  }

  @Test
  void scoresTheDirectionThePromptAsksFor() {
    Motion motion =
        Motion.score(
            List.of(moving(1, 0), moving(-1, 0), moving(0, -1), moving(0, 1), moving(1, 0)),
            List.of(
                "a white square moving right on a blue background",
                "a white square moving left on a blue background",
                "a white square moving up on a blue background",
                "a white square moving down on a blue background",
                "a white square moving left on a blue background"));
    assertEquals(5, motion.samples());
    assertEquals(0.8, motion.correct(), 1e-12);
  }

  @Test
  void aStillShapeOrAPromptWithoutDirectionDoesNotCount() {
    Motion still =
        Motion.score(
            List.of(moving(0, 0), moving(1, 0)),
            List.of(
                "a white square moving right on a blue background",
                "a white square on a blue background"));
    assertEquals(1, still.samples());
    assertEquals(0.0, still.correct());
    assertTrue(Double.isNaN(Motion.score(List.of(), List.of()).correct()));
  }
}
