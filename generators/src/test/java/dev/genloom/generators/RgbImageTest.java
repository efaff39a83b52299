package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class RgbImageTest {
  /**
   * A 4x3 image resized to 2x5 equals PyTorch 1.13's {@code F.interpolate(x / 255, size=(5, 2),
   * mode="bilinear", align_corners=False)} on the same values (recorded once).
   */
  @Test
  void bilinearResizeMatchesTorchInterpolate() {
    int[] chw = {
      0, 37, 74, 111, 148, 185, 222, 3, 40, 77, 114, 151, 188, 225, 6, 43, 80, 117, 154, 191, 228,
      9, 46, 83, 120, 157, 194, 231, 12, 49, 86, 123, 160, 197, 234, 15
    };
    float[] expected = {
      0.072549f,
      0.3627451f,
      0.3047059f,
      0.3941177f,
      0.6529412f,
      0.4411765f,
      0.3988235f,
      0.4882353f,
      0.2294118f,
      0.5196078f,
      0.809804f,
      0.0960784f,
      0.6403922f,
      0.3282353f,
      0.3862745f,
      0.6764706f,
      0.4333334f,
      0.4223529f,
      0.4647059f,
      0.2529412f,
      0.5431373f,
      0.8333334f,
      0.3737255f,
      0.6639216f,
      0.1196079f,
      0.4098039f,
      0.4678432f,
      0.4568627f,
      0.7f,
      0.4882353f
    };
    int w = 4;
    int h = 3;
    byte[] rgb = new byte[w * h * 3];
    for (int c = 0; c < 3; c++) {
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          rgb[(y * w + x) * 3 + c] = (byte) chw[(c * h + y) * w + x];
        }
      }
    }
    try (NDManager manager = NDManager.newBaseManager()) {
      NDArray resized = new RgbImage(w, h, rgb).toUnit(manager, 2, 5);
      assertEquals(new Shape(3, 5, 2), resized.getShape());
      float[] actual = resized.toFloatArray();
      for (int i = 0; i < expected.length; i++) {
        assertEquals(expected[i], actual[i], 1e-6, "element " + i);
      }
      NDArray same = new RgbImage(w, h, rgb).toUnit(manager, 4, 3);
      assertEquals(new Shape(3, 3, 4), same.getShape());
    }
  }
}
