package dev.genloom.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KernelInceptionDistanceTest {

  private static float[][] rows(Npz.Array array, int n, double scale, double shift) {
    float[][] out = new float[n][array.cols()];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < array.cols(); j++) {
        out[i][j] = (float) (array.data()[i * array.cols() + j] * scale + shift);
      }
    }
    return out;
  }

  @Test
  void matchesNumpyWhenTheSubsetIsTheWholeSet() throws Exception {
    Map<String, Npz.Array> arrays =
        Npz.read(Path.of(getClass().getResource("/fid/random_1000x256.npz").toURI()));
    float[][] x = rows(arrays.get("f1"), 300, 1, 0);
    float[][] y = rows(arrays.get("f2"), 300, 1.1, 0.05);
    // numpy: (Kxx.sum() - tr + Kyy.sum() - tr) / (m(m-1)) - 2 Kxy.sum() / m^2 with k = (x.y/d +
    // 1)^3
    double expected = 0.007696607674477107;
    KernelInceptionDistance kid = KernelInceptionDistance.compute(x, y, 5, 1000, 0);
    assertEquals(300, kid.subsetSize());
    assertEquals(expected, kid.mean(), 1e-9);
    assertEquals(0.0, kid.std(), 1e-12, "every subset is the whole set");
  }

  @Test
  void seededSubsetsRepeatAndIdenticalSetsGiveNearZero() throws Exception {
    Map<String, Npz.Array> arrays =
        Npz.read(Path.of(getClass().getResource("/fid/random_1000x256.npz").toURI()));
    float[][] x = rows(arrays.get("f1"), 1000, 1, 0);
    float[][] y = rows(arrays.get("f2"), 1000, 1, 0);
    KernelInceptionDistance a = KernelInceptionDistance.compute(x, y, 10, 200, 7);
    KernelInceptionDistance b = KernelInceptionDistance.compute(x, y, 10, 200, 7);
    assertEquals(a, b);
    assertTrue(Math.abs(a.mean()) < 0.01, "same distribution: " + a);
    assertTrue(a.std() > 0);
    assertThrows(
        IllegalArgumentException.class,
        () -> KernelInceptionDistance.compute(new float[1][2], y, 1, 10, 0));
  }
}
