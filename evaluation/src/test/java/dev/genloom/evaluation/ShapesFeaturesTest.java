package dev.genloom.evaluation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.genloom.generators.MediaFiles;
import dev.genloom.generators.ModelRepository;
import dev.genloom.generators.RgbImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The shapes-features network through DJL on real images rendered by the training data code. */
class ShapesFeaturesTest {
  static final Path REAL = Path.of("..", "examples", "real-shapes");

  @Test
  void realImagesAreAlignedWithTheirCaptionsAndCloseToTheReferenceStatistics() throws Exception {
    List<RgbImage> images = new ArrayList<>();
    List<String> captions = new ArrayList<>();
    for (String line : Files.readAllLines(REAL.resolve("captions.txt"))) {
      String[] parts = line.split("\t");
      images.add(MediaFiles.readImage(REAL.resolve(parts[0])));
      captions.add(parts[1]);
    }
    var repository = ModelRepository.scan(Path.of("..", "models"));
    try (FeatureNetwork network =
        FeatureNetwork.open(repository.find("shapes-features").orElseThrow(), Device.cpu())) {
      Alignment alignment = Alignment.score(network, images, captions);
      assertEquals(images.size(), alignment.samples());
      assertTrue(alignment.allCorrect() >= 0.97, "real images aligned: " + alignment);

      GaussianStats real =
          StatsFiles.load(Path.of("..", "models", "shapes-features", "reference_stats.npz"));
      GaussianStats sample = GaussianStats.fromFeatures(network.run(images).features());
      assertTrue(sample.rankDeficient(), "48 samples in 128 dimensions");
      double fd = FrechetDistance.between(sample, real);
      // A small real sample against the 2000-image reference: finite and far below generated sets.
      assertTrue(Double.isFinite(fd) && fd > 0, "fd " + fd);
      assertTrue(network.describe().contains("shapes-features"), network.describe());
    }
  }
}
