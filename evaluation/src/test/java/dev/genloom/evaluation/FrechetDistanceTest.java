package dev.genloom.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

/** Closed-form cases (values recomputed with numpy/scipy). */
class FrechetDistanceTest {

  private static void assertRelative(double expected, double actual, double tolerance) {
    assertTrue(
        Math.abs(actual - expected) <= tolerance * Math.abs(expected),
        "expected " + expected + " got " + actual);
  }

  @Test
  void diagonalCovariances() {
    GaussianStats a = GaussianStats.of(new double[3], CommonOps_DDRM.diag(1, 4, 9), 0);
    GaussianStats b = GaussianStats.of(new double[] {1, 2, 3}, CommonOps_DDRM.diag(4, 1, 16), 0);
    assertRelative(17.0, FrechetDistance.between(a, b), 1e-12);
  }

  @Test
  void correlatedCovariance() {
    DMatrixRMaj s1 = new DMatrixRMaj(new double[][] {{2, 1}, {1, 2}});
    GaussianStats a = GaussianStats.of(new double[] {1, 1}, s1, 0);
    GaussianStats b = GaussianStats.of(new double[] {0, 0}, CommonOps_DDRM.diag(1, 4), 0);
    assertRelative(2.7712204476543416, FrechetDistance.between(a, b), 1e-6);
  }

  @Test
  void highDimensionalIdentityCovariances() {
    int d = 2048;
    double[] ones = new double[d];
    java.util.Arrays.fill(ones, 1.0);
    GaussianStats a = GaussianStats.of(new double[d], CommonOps_DDRM.identity(d), 0);
    GaussianStats b = GaussianStats.of(ones, CommonOps_DDRM.identity(d), 0);
    assertRelative(2048.0, FrechetDistance.between(a, b), 1e-6);
  }

  @Test
  void statsFromFeaturesUseUnbiasedCovariance() {
    float[][] x = {{1, 2}, {3, 6}, {5, 7}};
    GaussianStats stats = GaussianStats.fromFeatures(x);
    assertEquals(3.0, stats.mu()[0], 1e-12);
    assertEquals(5.0, stats.mu()[1], 1e-12);
    // numpy.cov(x, rowvar=False) = [[4, 5], [5, 7]]
    assertEquals(4.0, stats.sigma().get(0, 0), 1e-12);
    assertEquals(5.0, stats.sigma().get(0, 1), 1e-12);
    assertEquals(7.0, stats.sigma().get(1, 1), 1e-12);
    assertTrue(!stats.rankDeficient());
    assertEquals(0.0, FrechetDistance.between(stats, stats), 1e-9);
  }

  @Test
  void refusesFewerThanTwoSamples() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> GaussianStats.fromFeatures(new float[][] {{1, 2}}));
    assertTrue(e.getMessage().contains("at least 2 samples"), e.getMessage());
  }

  @Test
  void nonFiniteOrNonCovarianceStatisticsAreRefusedByName() {
    IllegalArgumentException nan =
        assertThrows(
            IllegalArgumentException.class,
            () -> GaussianStats.of(new double[] {0, Double.NaN}, CommonOps_DDRM.diag(1, 1), 0));
    assertTrue(nan.getMessage().contains("mu[1] is NaN"), nan.getMessage());
    IllegalArgumentException infinite =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                GaussianStats.of(
                    new double[2], CommonOps_DDRM.diag(1, Double.POSITIVE_INFINITY), 0));
    assertTrue(infinite.getMessage().contains("sigma[1][1] is Infinity"), infinite.getMessage());
    IllegalArgumentException indefinite =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                GaussianStats.of(
                    new double[2], new DMatrixRMaj(new double[][] {{1, 2}, {2, 1}}), 0));
    assertTrue(
        indefinite.getMessage().contains("not positive semi-definite"), indefinite.getMessage());
    IllegalArgumentException asymmetric =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                GaussianStats.of(
                    new double[2], new DMatrixRMaj(new double[][] {{1, 0.5}, {0, 1}}), 0));
    assertTrue(asymmetric.getMessage().contains("not symmetric"), asymmetric.getMessage());
    // rank-deficient but positive semi-definite is a valid covariance
    GaussianStats.of(new double[2], new DMatrixRMaj(new double[][] {{1, 1}, {1, 1}}), 0);
  }
}
