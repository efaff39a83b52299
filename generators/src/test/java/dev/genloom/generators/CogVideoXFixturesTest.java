package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CogVideoX-shaped random-weight fixtures (text-to-video with CogVideoX's DDIM and DPM
 * schedulers, and image-to-video) against diffusers' own pipelines: every component, and every
 * recorded run at two frame counts (and, text-to-video, two sizes) replayed through the Java
 * runtime (T5, the transformer graph, the scheduler with all its draws, the chunked causal VAE),
 * final latents to 1e-4; then frame counts, references and caching.
 */
class CogVideoXFixturesTest {
  private static final Path MODELS = Path.of("..", "models");

  private static ModelPackage pkg(String name) {
    return ModelPackage.open(MODELS.resolve(name));
  }

  @ParameterizedTest
  @ValueSource(strings = {"fixture-cogvideox", "fixture-cogvideox-i2v"})
  void javaMatchesDiffusersAtTwoFrameCounts(String name) {
    ModelPackage pkg = pkg(name);
    List<GoldenCheck.Result> components = GoldenCheck.checkComponents(pkg, Device.cpu());
    assertEquals(pkg.manifest().getComponentsCount(), components.size());
    for (GoldenCheck.Result r : components) {
      assertTrue(r.maxAbsError() <= 1e-4, name + "/" + r.component() + ": " + r.maxAbsError());
    }
    Set<String> frames = new TreeSet<>();
    Set<String> samplers = new TreeSet<>();
    Set<String> sizes = new TreeSet<>();
    for (SamplingCheck.Result r : SamplingCheck.check(pkg, Device.cpu())) {
      assertTrue(r.tokenIdsMatch(), name + " " + r.subject() + ": token ids differ");
      assertTrue(r.latentError() <= 1e-4, name + " " + r.subject() + ": " + r.latentError());
      assertTrue(r.pixelError() <= 1e-3, name + " " + r.subject() + ": " + r.pixelError());
      assertTrue(r.timestepError() <= 1e-4, name + " " + r.subject() + ": " + r.timestepError());
      String[] parts = r.subject().split("/");
      samplers.add(parts[1]);
      sizes.add(parts[2]);
      frames.add(parts[parts.length - 1]);
    }
    assertEquals(Set.of("ddim", "dpmpp2m"), samplers, name + " records both samplers");
    if (name.equals("fixture-cogvideox")) {
      assertEquals(Set.of("32x32", "48x32"), sizes, name + " records two sizes");
    }
    assertTrue(
        frames.containsAll(Set.of("f9", "f17")), name + " records 9 and 17 frames: " + frames);
  }

  @Test
  void videoComesOutAtTheRequestedFrameCountAndOthersAreRefusedByName() {
    try (Generator generator = Generators.open(pkg("fixture-cogvideox"), Device.cpu())) {
      GenerationSpec spec =
          generator.defaults("a red ball rolls left", 1).toBuilder().steps(2).build();
      for (int frames : new int[] {9, 17}) {
        GeneratedMedia media =
            generator
                .generate(
                    List.of(spec.toBuilder().numFrames(frames).build()), ProgressListener.NONE)
                .get(0);
        assertEquals(frames, media.frames().size());
        assertEquals(spec.width(), media.frames().get(0).width());
      }
      IllegalArgumentException even =
          assertThrows(
              IllegalArgumentException.class,
              () -> generator.validate(spec.toBuilder().numFrames(13).build()));
      assertTrue(even.getMessage().contains("decodes to another count"), even.getMessage());
      IllegalArgumentException odd =
          assertThrows(
              IllegalArgumentException.class,
              () -> generator.validate(spec.toBuilder().numFrames(10).build()));
      assertTrue(odd.getMessage().contains("is not 1 + 4 k"), odd.getMessage());
      IllegalArgumentException reference =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  generator.validate(
                      spec.toBuilder()
                          .reference(
                              java.util.Optional.of(new RgbImage(32, 32, new byte[32 * 32 * 3])))
                          .build()));
      assertTrue(
          reference.getMessage().contains("text-to-video and takes no reference"),
          reference.getMessage());
      for (String cache : List.of("fora:2", "teacache:0.5")) {
        GeneratedMedia cached =
            generator
                .generate(
                    List.of(spec.toBuilder().steps(6).cache(CacheSpec.parse(cache)).build()),
                    ProgressListener.NONE)
                .get(0);
        assertTrue(cached.blockSkips() > 0, cache + " skips joint blocks");
      }
    }
  }

  @Test
  void imageToVideoNeedsTheFirstFrameAtTheRequestedSize() {
    try (Generator generator = Generators.open(pkg("fixture-cogvideox-i2v"), Device.cpu())) {
      GenerationSpec spec =
          generator.defaults("a red ball rolls left", 1).toBuilder().steps(2).build();
      IllegalArgumentException missing =
          assertThrows(IllegalArgumentException.class, () -> generator.validate(spec));
      assertTrue(missing.getMessage().contains("needs the first frame"), missing.getMessage());
      IllegalArgumentException size =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  generator.validate(
                      spec.toBuilder()
                          .reference(
                              java.util.Optional.of(new RgbImage(16, 16, new byte[16 * 16 * 3])))
                          .build()));
      assertTrue(size.getMessage().contains("expected a 32x32 first frame"), size.getMessage());
      byte[] rgb = new byte[32 * 32 * 3];
      for (int i = 0; i < rgb.length; i += 3) {
        rgb[i] = (byte) 200;
      }
      GeneratedMedia media =
          generator
              .generate(
                  List.of(
                      spec.toBuilder()
                          .reference(java.util.Optional.of(new RgbImage(32, 32, rgb)))
                          .build()),
                  ProgressListener.NONE)
              .get(0);
      assertEquals(spec.numFrames(), media.frames().size());
    }
  }
}
