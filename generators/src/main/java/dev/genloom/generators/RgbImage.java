package dev.genloom.generators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import javax.imageio.ImageIO;

/** An 8-bit RGB image, row-major, interleaved. Immutable. */
public final class RgbImage {
  static {
    // Encode in memory: ImageIO's disk cache registers a shutdown hook, which fails while the JVM
    // is shutting down, so a worker draining on SIGTERM could not encode its last results.
    ImageIO.setUseCache(false);
  }

  private final int width;
  private final int height;
  private final byte[] rgb;

  public RgbImage(int width, int height, byte[] rgb) {
    if (rgb.length != width * height * 3) {
      throw new IllegalArgumentException(
          "rgb has " + rgb.length + " bytes for " + width + "x" + height);
    }
    this.width = width;
    this.height = height;
    this.rgb = rgb.clone();
  }

  /** From a CHW float tensor in [-1, 1] (the generators' pixel convention). */
  public static RgbImage fromSymmetric(NDArray chw) {
    Shape shape = chw.getShape();
    int h = (int) shape.get(1);
    int w = (int) shape.get(2);
    float[] data = chw.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
    byte[] rgb = new byte[w * h * 3];
    int plane = w * h;
    for (int c = 0; c < 3; c++) {
      for (int i = 0; i < plane; i++) {
        float v = (data[c * plane + i] + 1f) * 127.5f;
        int q = Math.round(Math.max(0f, Math.min(255f, v)));
        rgb[i * 3 + c] = (byte) q;
      }
    }
    return new RgbImage(w, h, rgb);
  }

  public static RgbImage fromBufferedImage(BufferedImage image) {
    int w = image.getWidth();
    int h = image.getHeight();
    byte[] rgb = new byte[w * h * 3];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int p = image.getRGB(x, y);
        int i = (y * w + x) * 3;
        rgb[i] = (byte) (p >> 16);
        rgb[i + 1] = (byte) (p >> 8);
        rgb[i + 2] = (byte) p;
      }
    }
    return new RgbImage(w, h, rgb);
  }

  /** CHW float tensor in [-1, 1]. */
  public NDArray toSymmetric(NDManager manager) {
    float[] data = new float[width * height * 3];
    int plane = width * height;
    for (int i = 0; i < plane; i++) {
      for (int c = 0; c < 3; c++) {
        data[c * plane + i] = (rgb[i * 3 + c] & 0xFF) / 127.5f - 1f;
      }
    }
    return manager.create(data, new Shape(3, height, width));
  }

  /** CHW float tensor in [0, 1]. */
  public NDArray toUnit(NDManager manager) {
    float[] data = new float[width * height * 3];
    int plane = width * height;
    for (int i = 0; i < plane; i++) {
      for (int c = 0; c < 3; c++) {
        data[c * plane + i] = (rgb[i * 3 + c] & 0xFF) / 255f;
      }
    }
    return manager.create(data, new Shape(3, height, width));
  }

  /**
   * CHW float tensor in [0, 1] at another size, resized bilinearly from the [0, 1] floats as
   * PyTorch's {@code interpolate(mode="bilinear", align_corners=False)} does without antialiasing
   * (pytorch-fid's resize to the feature network's input).
   */
  public NDArray toUnit(NDManager manager, int outWidth, int outHeight) {
    if (outWidth == width && outHeight == height) {
      return toUnit(manager);
    }
    float[] out = new float[3 * outWidth * outHeight];
    double scaleY = (double) height / outHeight;
    double scaleX = (double) width / outWidth;
    for (int y = 0; y < outHeight; y++) {
      double sy = Math.max((y + 0.5) * scaleY - 0.5, 0);
      int y0 = Math.min((int) sy, height - 1);
      int y1 = Math.min(y0 + 1, height - 1);
      double wy = sy - y0;
      for (int x = 0; x < outWidth; x++) {
        double sx = Math.max((x + 0.5) * scaleX - 0.5, 0);
        int x0 = Math.min((int) sx, width - 1);
        int x1 = Math.min(x0 + 1, width - 1);
        double wx = sx - x0;
        for (int c = 0; c < 3; c++) {
          double top = (1 - wx) * unit(x0, y0, c) + wx * unit(x1, y0, c);
          double bottom = (1 - wx) * unit(x0, y1, c) + wx * unit(x1, y1, c);
          out[(c * outHeight + y) * outWidth + x] = (float) ((1 - wy) * top + wy * bottom);
        }
      }
    }
    return manager.create(out, new Shape(3, outHeight, outWidth));
  }

  private float unit(int x, int y, int channel) {
    return (rgb[(y * width + x) * 3 + channel] & 0xFF) / 255f;
  }

  public BufferedImage toBufferedImage() {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        int i = (y * width + x) * 3;
        image.setRGB(
            x, y, ((rgb[i] & 0xFF) << 16) | ((rgb[i + 1] & 0xFF) << 8) | (rgb[i + 2] & 0xFF));
      }
    }
    return image;
  }

  public byte[] toPng() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(toBufferedImage(), "png", out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  public int width() {
    return width;
  }

  public int height() {
    return height;
  }

  public byte[] rgb() {
    return rgb.clone();
  }

  /** Channel value at (x, y), 0..255. */
  public int at(int x, int y, int channel) {
    return rgb[(y * width + x) * 3 + channel] & 0xFF;
  }
}
