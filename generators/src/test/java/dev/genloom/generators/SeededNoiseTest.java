package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SeededNoiseTest {

  @Test
  void splitMix64MatchesPublishedSequenceForSeedZero() {
    // First outputs of SplitMix64 seeded with 0, as published with the algorithm (Steele et al.).
    SeededNoise noise = new SeededNoise(0);
    assertEquals(0xE220A8397B1DCDAFL, noise.nextLong());
    assertEquals(0x6E789E6AA1B965F4L, noise.nextLong());
    assertEquals(0x06C45D188009454FL, noise.nextLong());
  }

  @Test
  void sameSeedGivesSameNoiseAndDifferentSeedsDiffer() {
    float[] a = new SeededNoise(42).gaussians(1024);
    float[] b = new SeededNoise(42).gaussians(1024);
    float[] c = new SeededNoise(43).gaussians(1024);
    assertArrayEquals(a, b);
    assertFalse(Arrays.equals(a, c));
  }

  @Test
  void gaussiansHaveUnitMomentsOnALargeDraw() {
    float[] x = new SeededNoise(7).gaussians(200_000);
    double mean = 0;
    for (float v : x) {
      mean += v;
    }
    mean /= x.length;
    double var = 0;
    for (float v : x) {
      var += (v - mean) * (v - mean);
    }
    var /= x.length - 1;
    assertTrue(Math.abs(mean) < 0.01, "mean " + mean);
    assertTrue(Math.abs(var - 1) < 0.02, "variance " + var);
  }
}
