package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TokenSamplingTest {
  private static final float[] LOGITS = {
    0f, (float) Math.log(3), (float) Math.log(6), Float.NEGATIVE_INFINITY
  };

  @Test
  void inverseCdfWalksTheVocabularyInIndexOrder() {
    // probabilities 0.1, 0.3, 0.6, 0: cumulative 0.1, 0.4, 1.0
    assertEquals(0, TokenSampling.sample(LOGITS, 1f, 0, 1f, 0.05));
    assertEquals(1, TokenSampling.sample(LOGITS, 1f, 0, 1f, 0.2));
    assertEquals(2, TokenSampling.sample(LOGITS, 1f, 0, 1f, 0.5));
    assertEquals(2, TokenSampling.sample(LOGITS, 1f, 0, 1f, 0.999));
  }

  @Test
  void topKKeepsOnlyTheLargestLogits() {
    for (double u = 0.025; u < 1; u += 0.05) {
      assertEquals(2, TokenSampling.sample(LOGITS, 1f, 1, 1f, u));
    }
  }

  @Test
  void topPKeepsTheSmallestPrefixReachingTheMass() {
    // Sorted: 0.6 (mass before 0), 0.3 (before 0.6), 0.1 (before 0.9). top_p 0.5 keeps only index
    // 2.
    for (double u = 0.025; u < 1; u += 0.05) {
      assertEquals(2, TokenSampling.sample(LOGITS, 1f, 0, 0.5f, u));
    }
    // top_p 0.7 keeps indices 2 and 1.
    assertTrue(TokenSampling.sample(LOGITS, 1f, 0, 0.7f, 0.01) == 1);
  }

  @Test
  void lowTemperatureSharpensTowardsTheArgmax() {
    assertEquals(2, TokenSampling.sample(LOGITS, 0.01f, 0, 1f, 0.3));
  }

  @Test
  void cacheSpecParsesEveryFormAndNamesTheFieldOnErrors() {
    assertEquals(CacheSpec.NONE, CacheSpec.parse("none"));
    assertEquals(new CacheSpec(CacheSpec.Kind.AUTO, 0), CacheSpec.parse("auto"));
    assertEquals(new CacheSpec(CacheSpec.Kind.FORA, 3), CacheSpec.parse("fora:3"));
    assertEquals(new CacheSpec(CacheSpec.Kind.TEACACHE, 0.1), CacheSpec.parse("teacache:0.1"));
    assertEquals("fora:3", CacheSpec.parse("FORA:3").toString());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> CacheSpec.parse("fora:0"));
    assertTrue(e.getMessage().startsWith("cache:"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> CacheSpec.parse("sometimes"));
  }
}
