package dev.genloom.evaluation;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The real-image side of a comparison: Gaussian statistics for the Fréchet distance and, when
 * available, the raw features that KID needs.
 *
 * @param stats mean and covariance of the reference features
 * @param features per-image reference features, or null when only statistics are known
 * @param description where the reference came from, for reports
 */
public record Reference(GaussianStats stats, float[][] features, String description) {

  /**
   * Loads a reference: an image folder (features computed with the network), or a {@code .npz} with
   * {@code mu} and {@code sigma} and optionally a {@code features} array [n, d].
   */
  public static Reference load(Path path, FeatureNetwork network) {
    if (path.toString().endsWith(".npz")) {
      if (!Files.isRegularFile(path)) {
        throw new IllegalArgumentException("reference: " + path + " does not exist");
      }
      GaussianStats stats = StatsFiles.load(path);
      Map<String, Npz.Array> arrays = Npz.read(path);
      Npz.Array raw = arrays.get("features");
      float[][] features = null;
      if (raw != null) {
        if (raw.shape().length != 2 || raw.cols() != stats.dimension()) {
          throw new IllegalArgumentException(
              "reference: 'features' in "
                  + path
                  + " must be [n, "
                  + stats.dimension()
                  + "], got "
                  + java.util.Arrays.toString(raw.shape()));
        }
        features = new float[raw.rows()][raw.cols()];
        for (int i = 0; i < raw.rows(); i++) {
          for (int j = 0; j < raw.cols(); j++) {
            features[i][j] = (float) raw.data()[i * raw.cols() + j];
          }
        }
      }
      int n = features == null ? 0 : features.length;
      return new Reference(
          n > 0 ? GaussianStats.of(stats.mu(), stats.sigma(), n) : stats,
          features,
          path.getFileName()
              + (n > 0 ? " (" + n + " real images, statistics and features)" : " (statistics)"));
    }
    float[][] features = network.run(ImageFolder.read(path)).features();
    return new Reference(
        GaussianStats.fromFeatures(features),
        features,
        path.getFileName() + " (" + features.length + " images)");
  }

  /** Whether KID can be computed against this reference. */
  public boolean hasFeatures() {
    return features != null && features.length >= 2;
  }
}
