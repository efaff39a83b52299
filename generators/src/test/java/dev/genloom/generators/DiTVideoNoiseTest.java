package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.genloom.proto.ProtoJson;
import dev.genloom.proto.v1.ModelManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The frame-correlated initial noise of {@link DiTVideo}, on a copy of the shipped package. */
class DiTVideoNoiseTest {
  private static final Path SHIPPED = Path.of("..", "models", "tiny-dit-video");
  private static final Shape ITEM = new Shape(1, 4, 8, 8, 8);

  @TempDir Path dir;

  /** A copy of tiny-dit-video whose manifest asks for {@code correlation}. */
  private ModelPackage withCorrelation(float correlation) throws IOException {
    Path copy = Files.createDirectories(dir.resolve("tiny-dit-video"));
    try (Stream<Path> files = Files.walk(SHIPPED)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Path target = copy.resolve(SHIPPED.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(target);
        } else {
          Files.copy(f, target);
        }
      }
    }
    Path manifest = copy.resolve(ModelPackage.MANIFEST_FILE);
    ModelManifest.Builder m = ProtoJson.readManifest(manifest).toBuilder();
    m.getDefaultsBuilder().setFrameNoiseCorrelation(correlation);
    Files.writeString(manifest, ProtoJson.printManifest(m.build()), StandardCharsets.UTF_8);
    return ModelPackage.open(copy);
  }

  @Test
  void initialNoiseMixesTheSharedAndThePerFrameDraws() throws Exception {
    try (DiTVideo dit = (DiTVideo) Generators.open(withCorrelation(0.64f), Device.cpu());
        NDManager scope = NDManager.newBaseManager()) {
      NDArray perFrame = scope.randomNormal(ITEM);
      NDArray shared = scope.randomNormal(new Shape(1, 4, 1, 8, 8));
      NDArray x =
          dit.initialNoise(
              scope, List.of(new ReplayNoise(List.of(perFrame, shared), List.of())), ITEM);
      NDArray expected = shared.mul(0.8f).add(perFrame.mul(0.6f));
      assertEquals(ITEM, x.getShape());
      assertTrue(x.sub(expected).abs().max().getFloat() < 1e-6f);
    }
  }

  @Test
  void seededNoiseIsCorrelatedAcrossFramesAndUnitVariance() throws Exception {
    try (DiTVideo dit = (DiTVideo) Generators.open(withCorrelation(0.64f), Device.cpu());
        NDManager scope = NDManager.newBaseManager()) {
      Shape item = new Shape(1, 4, 8, 32, 32);
      NDArray x = dit.initialNoise(scope, List.of(NoiseSource.seeded(7)), item);
      NDArray frame0 = x.get(":, :, 0").flatten();
      NDArray frame5 = x.get(":, :, 5").flatten();
      double corr =
          frame0.mul(frame5).mean().getFloat()
              / Math.sqrt(frame0.pow(2).mean().getFloat() * frame5.pow(2).mean().getFloat());
      assertEquals(0.64, corr, 0.08, "frame-to-frame correlation");
      assertEquals(1.0, x.pow(2).mean().getFloat(), 0.05, "variance");
    }
  }

  @Test
  void aCorrelationOfOneIsRefusedByName() throws Exception {
    ModelPackage pkg = withCorrelation(1f);
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> Generators.open(pkg, Device.cpu()));
    assertTrue(e.getMessage().contains("frameNoiseCorrelation"), e.getMessage());
  }
}
