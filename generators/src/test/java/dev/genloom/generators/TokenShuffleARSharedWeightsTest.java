package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The AR generator runs prefill and decode as two methods of one loaded transformer: one module for
 * both, its weights held once (the sampling goldens are replayed by {@link ShippedModelsTest}).
 */
class TokenShuffleARSharedWeightsTest {
  @ParameterizedTest
  @ValueSource(strings = {"tiny-ar-s1", "tiny-ar-s2"})
  void prefillAndDecodeAreMethodsOfOneLoadedTransformer(String name) {
    ModelPackage pkg = ModelPackage.open(Path.of("..", "models", name));
    try (TokenShuffleAR ar = (TokenShuffleAR) Generators.open(pkg, Device.cpu())) {
      LoadedComponents components = ar.components();
      assertEquals(List.of("prefill", "decode", "vq_decoder"), components.loadedNames());
      assertEquals(2, components.loadedModules(), "transformer.pt and vq_decoder.pt");
      TorchComponent prefill = components.get("prefill");
      TorchComponent decode = components.get("decode");
      assertSame(prefill.module(), decode.module());
      assertEquals("transformer.pt", prefill.file().getFileName().toString());
      long resident = ar.residentBytes();

      byte[] first =
          ar.generate(
                  List.of(ar.defaults("a red circle on a blue background", 3)),
                  ProgressListener.NONE)
              .get(0)
              .frames()
              .get(0)
              .rgb();
      byte[] again =
          ar.generate(
                  List.of(ar.defaults("a red circle on a blue background", 3)),
                  ProgressListener.NONE)
              .get(0)
              .frames()
              .get(0)
              .rgb();
      assertTrue(java.util.Arrays.equals(first, again), name + ": same seed, same image");
      assertEquals(2, components.loadedModules(), "generating loads nothing more");
      assertEquals(resident, ar.residentBytes());
    }
  }
}
