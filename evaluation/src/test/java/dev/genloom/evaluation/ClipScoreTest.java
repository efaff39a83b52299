package dev.genloom.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.genloom.generators.MediaFiles;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import dev.genloom.generators.RgbImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CLIP score through DJL with the shipped shapes-clip pair. */
class ClipScoreTest {
  private static ModelPackage clipPackage(Path temp) throws Exception {
    Path models = Files.createDirectories(temp.resolve("models"));
    Files.createSymbolicLink(
        models.resolve("shapes-clip"),
        Path.of("..", "models", "shapes-clip").toAbsolutePath().normalize());
    return ModelRepository.scan(models).find("shapes-clip").orElseThrow();
  }

  @Test
  void matchesThePythonScoreOnTheGolden(@TempDir Path temp) throws Exception {
    ModelPackage pkg = clipPackage(temp);
    Map<String, Npz.Array> golden = Npz.read(pkg.root().resolve("golden/clip_score.npz"));
    Npz.Array pixels = golden.get("pixels");
    int n = pixels.rows();
    List<RgbImage> images = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] rgb = new byte[32 * 32 * 3];
      for (int c = 0; c < 3; c++) {
        for (int p = 0; p < 32 * 32; p++) {
          double v = pixels.data()[i * 3 * 1024 + c * 1024 + p];
          rgb[p * 3 + c] = (byte) Math.round(v * 255);
        }
      }
      images.add(new RgbImage(32, 32, rgb));
    }
    // The golden's pixels are exact multiples of 1/255 only up to rounding; the prompts are the
    // captions the ids encode.
    List<String> captions =
        Files.readAllLines(pkg.root().resolve("golden/clip_score_captions.txt"));
    try (ClipScore clip = ClipScore.open(pkg, Device.cpu())) {
      double score = clip.score(images, captions);
      assertEquals(golden.get("clip_score").data()[0], score, 0.05);
    }
  }

  @Test
  void matchingCaptionsScoreHigherThanWrongOnes(@TempDir Path temp) throws Exception {
    ModelPackage pkg = clipPackage(temp);
    Path real = Path.of("..", "examples", "real-shapes");
    List<RgbImage> images = new ArrayList<>();
    List<String> right = new ArrayList<>();
    for (String line : Files.readAllLines(real.resolve("captions.txt"))) {
      String[] parts = line.split("\t");
      images.add(MediaFiles.readImage(real.resolve(parts[0])));
      right.add(parts[1]);
    }
    List<String> wrong = new ArrayList<>(right.subList(1, right.size()));
    wrong.add(right.get(0));
    try (ClipScore clip = ClipScore.open(pkg, Device.cpu())) {
      double matched = clip.score(images, right);
      double shuffled = clip.score(images, wrong);
      assertTrue(matched > shuffled + 10, matched + " vs " + shuffled);
      assertTrue(matched <= 100 && shuffled >= 0);
    }
  }
}
