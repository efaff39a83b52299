package dev.genloom.generators;

import java.util.List;

/**
 * Full-reference similarity of 8-bit RGB images: PSNR, and SSIM as Wang et al. (2004) define it,
 * with an 11x11 Gaussian window of standard deviation 1.5, K1 = 0.01, K2 = 0.03 and a data range of
 * 255, computed per channel over the window positions that lie inside the image and averaged over
 * positions and channels. An image smaller than 11 pixels takes the largest odd window it holds.
 */
public final class ImageSimilarity {
  private static final int WINDOW = 11;
  private static final double SIGMA = 1.5;
  private static final double C1 = Math.pow(0.01 * 255, 2);
  private static final double C2 = Math.pow(0.03 * 255, 2);

  private ImageSimilarity() {}

  /**
   * PSNR in dB of {@code b} against {@code a} over all pixels of all frames; infinite when they are
   * equal.
   */
  public static double psnr(List<RgbImage> a, List<RgbImage> b) {
    checkSameShape(a, b);
    double sum = 0;
    long count = 0;
    for (int i = 0; i < a.size(); i++) {
      byte[] x = a.get(i).rgb();
      byte[] y = b.get(i).rgb();
      for (int p = 0; p < x.length; p++) {
        double d = (x[p] & 0xff) - (y[p] & 0xff);
        sum += d * d;
      }
      count += x.length;
    }
    double mse = sum / count;
    return mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / mse);
  }

  /** Mean SSIM of {@code b} against {@code a} over their frames. */
  public static double ssim(List<RgbImage> a, List<RgbImage> b) {
    checkSameShape(a, b);
    double sum = 0;
    for (int i = 0; i < a.size(); i++) {
      sum += ssim(a.get(i), b.get(i));
    }
    return sum / a.size();
  }

  /** SSIM of {@code b} against {@code a}, averaged over the three channels. */
  public static double ssim(RgbImage a, RgbImage b) {
    checkSameShape(List.of(a), List.of(b));
    int w = a.width();
    int h = a.height();
    int size = Math.min(WINDOW, Math.min(w, h));
    if (size % 2 == 0) {
      size--;
    }
    double[] kernel = gaussian(size);
    double total = 0;
    for (int c = 0; c < 3; c++) {
      double sum = 0;
      int positions = 0;
      for (int y0 = 0; y0 + size <= h; y0++) {
        for (int x0 = 0; x0 + size <= w; x0++) {
          double mx = 0;
          double my = 0;
          double xx = 0;
          double yy = 0;
          double xy = 0;
          for (int dy = 0; dy < size; dy++) {
            for (int dx = 0; dx < size; dx++) {
              double weight = kernel[dy] * kernel[dx];
              double x = a.at(x0 + dx, y0 + dy, c);
              double y = b.at(x0 + dx, y0 + dy, c);
              mx += weight * x;
              my += weight * y;
              xx += weight * x * x;
              yy += weight * y * y;
              xy += weight * x * y;
            }
          }
          double vx = xx - mx * mx;
          double vy = yy - my * my;
          double cov = xy - mx * my;
          sum +=
              ((2 * mx * my + C1) * (2 * cov + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
          positions++;
        }
      }
      total += sum / positions;
    }
    return total / 3;
  }

  /** A normalized 1-D Gaussian of {@code size} taps; the window is its outer product. */
  private static double[] gaussian(int size) {
    double[] k = new double[size];
    int center = size / 2;
    double sum = 0;
    for (int i = 0; i < size; i++) {
      k[i] = Math.exp(-((i - center) * (i - center)) / (2 * SIGMA * SIGMA));
      sum += k[i];
    }
    for (int i = 0; i < size; i++) {
      k[i] /= sum;
    }
    return k;
  }

  private static void checkSameShape(List<RgbImage> a, List<RgbImage> b) {
    if (a.isEmpty() || a.size() != b.size()) {
      throw new IllegalArgumentException(
          "similarity: " + a.size() + " frames against " + b.size() + "; need the same, >= 1");
    }
    for (int i = 0; i < a.size(); i++) {
      if (a.get(i).width() != b.get(i).width() || a.get(i).height() != b.get(i).height()) {
        throw new IllegalArgumentException(
            "similarity: frame "
                + i
                + " is "
                + a.get(i).width()
                + "x"
                + a.get(i).height()
                + " against "
                + b.get(i).width()
                + "x"
                + b.get(i).height());
      }
    }
  }
}
