package dev.genloom.evaluation.beam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.genloom.evaluation.FeatureNetwork;
import dev.genloom.evaluation.GaussianStats;
import dev.genloom.evaluation.ImageFolder;
import dev.genloom.evaluation.StatsFiles;
import dev.genloom.generators.ModelRepository;
import java.nio.file.Path;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Beam extraction gives the statistics of the in-memory computation, to float32 rounding. */
class FeatureStatsPipelineTest {
  private static final Path REAL = Path.of("..", "examples", "real-shapes");

  @Test
  void beamStatisticsEqualInMemoryStatistics(@TempDir Path temp) throws Exception {
    Path models = java.nio.file.Files.createDirectories(temp.resolve("models"));
    java.nio.file.Files.createSymbolicLink(
        models.resolve("shapes-features"),
        Path.of("..", "models", "shapes-features").toAbsolutePath().normalize());
    Path npz = temp.resolve("stats.npz");
    Pipeline pipeline =
        Pipeline.create(PipelineOptionsFactory.fromArgs("--runner=DirectRunner").create());
    FeatureStatsPipeline.build(
        pipeline, REAL.toAbsolutePath() + "/*.png", models, "shapes-features", npz.toString());
    assertEquals(PipelineResult.State.DONE, pipeline.run().waitUntilFinish());

    GaussianStats beam = StatsFiles.load(npz);
    GaussianStats memory;
    try (FeatureNetwork network =
        FeatureNetwork.open(
            ModelRepository.scan(models).find("shapes-features").orElseThrow(), Device.cpu())) {
      memory = GaussianStats.fromFeatures(network.run(ImageFolder.read(REAL)).features());
    }
    double[] mu1 = beam.mu();
    double[] mu2 = memory.mu();
    double worst = 0;
    for (int i = 0; i < mu1.length; i++) {
      worst = Math.max(worst, Math.abs(mu1[i] - mu2[i]));
    }
    double[] s1 = beam.sigma().data;
    double[] s2 = memory.sigma().data;
    double scale = 0;
    for (int i = 0; i < s1.length; i++) {
      worst = Math.max(worst, Math.abs(s1[i] - s2[i]));
      scale = Math.max(scale, Math.abs(s2[i]));
    }
    // Features agree to float32 rounding: libtorch's kernels round differently for different
    // batch compositions (bundles here, fixed batches in memory); the statistics follow.
    assertTrue(worst <= 1e-5 * Math.max(1, scale), "max difference " + worst + ", scale " + scale);
  }
}
