package dev.genloom.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Random-feature vectors: numpy RandomState(2023) features (generated once by
 * evaluation/fixtures/make_fid_fixtures.py), FD expected to 1e-6 relative.
 */
class FrechetFixturesTest {
  @TempDir Path dir;

  private static float[][] rows(Npz.Array array) {
    float[][] out = new float[array.rows()][array.cols()];
    for (int i = 0; i < array.rows(); i++) {
      for (int j = 0; j < array.cols(); j++) {
        out[i][j] = (float) array.data()[i * array.cols() + j];
      }
    }
    return out;
  }

  private static GaussianStats statsInDouble(Npz.Array array) {
    // Features in float64 as numpy holds them: mean and covariance without float32 rounding.
    int n = array.rows();
    int d = array.cols();
    double[] mu = new double[d];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < d; j++) {
        mu[j] += array.data()[i * d + j];
      }
    }
    for (int j = 0; j < d; j++) {
      mu[j] /= n;
    }
    double[] sigma = new double[d * d];
    for (int i = 0; i < n; i++) {
      for (int a = 0; a < d; a++) {
        double ca = array.data()[i * d + a] - mu[a];
        for (int b = 0; b < d; b++) {
          sigma[a * d + b] += ca * (array.data()[i * d + b] - mu[b]);
        }
      }
    }
    for (int k = 0; k < sigma.length; k++) {
      sigma[k] /= n - 1;
    }
    return GaussianStats.of(mu, new org.ejml.data.DMatrixRMaj(d, d, true, sigma), n);
  }

  @ParameterizedTest
  @CsvSource({
    "random_4096x64.npz, 0.5204524415812273",
    "random_1000x256.npz, 33.301037595233254",
    "random_300x256.npz, 112.31285724092271"
  })
  void matchesNumpyReference(String file, double expected) throws URISyntaxException {
    Path path = Path.of(getClass().getResource("/fid/" + file).toURI());
    Map<String, Npz.Array> arrays = Npz.read(path);
    double fd =
        FrechetDistance.between(statsInDouble(arrays.get("f1")), statsInDouble(arrays.get("f2")));
    assertEquals(expected, fd, 1e-6 * expected, file);
  }

  @ParameterizedTest
  @CsvSource({"random_300x256.npz"})
  void statsRoundTripThroughNpzAndFlagRankDeficiency(String file) throws Exception {
    Path path = Path.of(getClass().getResource("/fid/" + file).toURI());
    float[][] features = rows(Npz.read(path).get("f1"));
    GaussianStats stats = GaussianStats.fromFeatures(features);
    // Rank is at most n - 1: 300 samples can span 256 dimensions, 200 cannot.
    assertTrue(!stats.rankDeficient(), "300 samples in 256 dimensions can be full rank");
    assertTrue(
        GaussianStats.fromFeatures(java.util.Arrays.copyOf(features, 200)).rankDeficient(),
        "200 samples in 256 dimensions is flagged");
    Path saved = dir.resolve("ref.npz");
    StatsFiles.save(stats, saved);
    GaussianStats loaded = StatsFiles.load(saved);
    assertEquals(0.0, FrechetDistance.between(stats, loaded), 1e-8);
    assertEquals(stats.sigma().get(3, 7), loaded.sigma().get(3, 7), 0.0);
  }
}
