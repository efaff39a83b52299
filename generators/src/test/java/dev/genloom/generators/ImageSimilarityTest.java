package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ImageSimilarityTest {
  private static RgbImage constant(int w, int h, int value) {
    byte[] rgb = new byte[w * h * 3];
    java.util.Arrays.fill(rgb, (byte) value);
    return new RgbImage(w, h, rgb);
  }

  private static RgbImage noisy(RgbImage base, double sigma, long seed) {
    Random random = new Random(seed);
    byte[] rgb = base.rgb().clone();
    for (int i = 0; i < rgb.length; i++) {
      int v = (rgb[i] & 0xff) + (int) Math.round(random.nextGaussian() * sigma);
      rgb[i] = (byte) Math.max(0, Math.min(255, v));
    }
    return new RgbImage(base.width(), base.height(), rgb);
  }

  private static RgbImage pattern(int w, int h) {
    byte[] rgb = new byte[w * h * 3];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        for (int c = 0; c < 3; c++) {
          rgb[(y * w + x) * 3 + c] = (byte) ((x * 7 + y * 13 + c * 50) % 256);
        }
      }
    }
    return new RgbImage(w, h, rgb);
  }

  @Test
  void anImageEqualsItself() {
    RgbImage a = pattern(32, 32);
    assertEquals(1.0, ImageSimilarity.ssim(a, a), 1e-12);
    assertEquals(Double.POSITIVE_INFINITY, ImageSimilarity.psnr(List.of(a), List.of(a)));
  }

  @Test
  void constantImagesFollowTheLuminanceTerm() {
    // no variance: SSIM is (2 mx my + C1) / (mx^2 + my^2 + C1) at every position
    double c1 = Math.pow(0.01 * 255, 2);
    double expected = (2.0 * 100 * 120 + c1) / (100.0 * 100 + 120.0 * 120 + c1);
    assertEquals(
        expected, ImageSimilarity.ssim(constant(16, 16, 100), constant(16, 16, 120)), 1e-9);
    // MSE 400 everywhere
    assertEquals(
        10 * Math.log10(255.0 * 255 / 400),
        ImageSimilarity.psnr(List.of(constant(8, 8, 100)), List.of(constant(8, 8, 120))),
        1e-9);
  }

  @Test
  void moreNoiseIsLessSimilarAndSsimIsSymmetric() {
    RgbImage a = pattern(32, 32);
    RgbImage little = noisy(a, 4, 1);
    RgbImage much = noisy(a, 40, 1);
    assertTrue(ImageSimilarity.ssim(a, little) > ImageSimilarity.ssim(a, much));
    assertTrue(
        ImageSimilarity.psnr(List.of(a), List.of(little))
            > ImageSimilarity.psnr(List.of(a), List.of(much)));
    assertEquals(ImageSimilarity.ssim(a, much), ImageSimilarity.ssim(much, a), 1e-12);
  }

  @Test
  void imagesSmallerThanTheWindowUseTheLargestOddOne() {
    RgbImage a = pattern(6, 6);
    double s = ImageSimilarity.ssim(a, noisy(a, 20, 2));
    assertTrue(s > 0 && s < 1, "ssim " + s);
  }

  @Test
  void differentShapesAreRefused() {
    assertThrows(
        IllegalArgumentException.class, () -> ImageSimilarity.ssim(pattern(8, 8), pattern(8, 9)));
    assertThrows(
        IllegalArgumentException.class,
        () -> ImageSimilarity.psnr(List.of(pattern(8, 8)), List.of()));
  }
}
