package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Four requests with four different cache policies share one batched generation, and each comes out
 * bit for bit as it does alone: every item (and guidance branch) keeps its own cache state.
 */
class MixedCacheBatchTest {
  @ParameterizedTest
  @CsvSource({"tiny-ldm, ddim, 50", "tiny-dit-video, euler, 25"})
  void eachItemOfAMixedPolicyBatchEqualsItselfAlone(String model, String sampler, int steps) {
    ModelPackage pkg = ModelRepository.scan(ShippedModelsTest.MODELS).find(model).orElseThrow();
    List<String> policies = List.of("none", "budget:2", "fora:3", "teacache:0.3");
    List<String> prompts =
        List.of("a red circle", "a blue square", "a green triangle", "a yellow circle");
    try (Generator generator = Generators.open(pkg, Device.cpu())) {
      List<GenerationSpec> specs = new ArrayList<>();
      for (int i = 0; i < policies.size(); i++) {
        specs.add(
            generator.defaults(prompts.get(i), 10 + i).toBuilder()
                .sampler(sampler)
                .steps(steps)
                .cache(CacheSpec.parse(policies.get(i)))
                .build());
      }
      List<GeneratedMedia> together = generator.generate(specs, ProgressListener.NONE);
      assertEquals(4, together.get(0).batchSize());
      List<Long> skips = new ArrayList<>();
      for (int i = 0; i < specs.size(); i++) {
        GeneratedMedia alone =
            generator.generate(List.of(specs.get(i)), ProgressListener.NONE).get(0);
        GeneratedMedia batched = together.get(i);
        assertEquals(alone.frames().size(), batched.frames().size());
        for (int f = 0; f < alone.frames().size(); f++) {
          assertArrayEquals(
              alone.frames().get(f).rgb(),
              batched.frames().get(f).rgb(),
              model + " " + policies.get(i) + " frame " + f + " differs in the batch");
        }
        assertEquals(alone.blockEvaluations(), batched.blockEvaluations(), policies.get(i));
        assertEquals(alone.blockSkips(), batched.blockSkips(), policies.get(i));
        skips.add(batched.blockSkips());
      }
      assertEquals(0L, skips.get(0), "none skips nothing");
      for (int i = 1; i < skips.size(); i++) {
        assertTrue(skips.get(i) > 0, policies.get(i) + " skips blocks");
      }
    }
  }
}
