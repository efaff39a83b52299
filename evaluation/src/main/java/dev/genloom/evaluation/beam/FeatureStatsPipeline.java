package dev.genloom.evaluation.beam;

import ai.djl.Device;
import dev.genloom.evaluation.FeatureNetwork;
import dev.genloom.evaluation.GaussianStats;
import dev.genloom.evaluation.StatsFiles;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import dev.genloom.generators.RgbImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.coders.SerializableCoder;
import org.apache.beam.sdk.io.FileIO;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.EmptyMatchTreatment;
import org.apache.beam.sdk.transforms.Combine;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.View;
import org.apache.beam.sdk.transforms.windowing.GlobalWindow;
import org.apache.beam.sdk.values.PBegin;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionView;
import org.ejml.data.DMatrixRMaj;

/**
 * Fréchet statistics of a large image set as a Beam pipeline: images matched by a file pattern
 * (local or gs://) go through the feature network in batches on the Beam workers, then the mean and
 * the unbiased covariance are computed in float64 in two passes (the mean first, as a side input,
 * then the centred outer products), exactly as {@link GaussianStats#fromFeatures} does in memory,
 * and the pytorch-fid {@code .npz} is written through Beam FileSystems.
 */
public final class FeatureStatsPipeline {
  private FeatureStatsPipeline() {}

  /** Builds the pipeline: images matching {@code pattern} to statistics at {@code output}. */
  public static void build(
      Pipeline pipeline, String pattern, Path modelsFolder, String features, String output) {
    PCollection<float[]> vectors =
        pipeline.apply("Extract", new ExtractFeatures(pattern, modelsFolder.toString(), features));
    PCollectionView<double[]> mean =
        vectors
            .apply("Mean", Combine.globally(new MeanFn()).withoutDefaults())
            .apply("MeanView", View.asSingleton());
    vectors
        .apply(
            "Scatter", Combine.globally(new ScatterFn(mean)).withSideInputs(mean).withoutDefaults())
        .apply("WriteNpz", ParDo.of(new WriteStatsFn(output, mean)).withSideInputs(mean));
  }

  /** Images matching a pattern to feature vectors, batched through the network. */
  public static final class ExtractFeatures extends PTransform<PBegin, PCollection<float[]>> {
    private final String pattern;
    private final String models;
    private final String features;

    ExtractFeatures(String pattern, String models, String features) {
      this.pattern = pattern;
      this.models = models;
      this.features = features;
    }

    @Override
    public PCollection<float[]> expand(PBegin input) {
      return input
          .apply(
              "Match",
              FileIO.match()
                  .filepattern(pattern)
                  .withEmptyMatchTreatment(EmptyMatchTreatment.DISALLOW))
          .apply("Open", FileIO.readMatches())
          .apply("Features", ParDo.of(new ExtractFn(models, features)))
          .setCoder(SerializableCoder.of(float[].class));
    }
  }

  /** Runs the network over the images of a bundle, a batch at a time. */
  static final class ExtractFn extends DoFn<FileIO.ReadableFile, float[]> {
    private static final long serialVersionUID = 1L;
    static final int BATCH = 64;
    private final String models;
    private final String features;
    private transient FeatureNetwork network;
    private transient List<RgbImage> pending;

    ExtractFn(String models, String features) {
      this.models = models;
      this.features = features;
    }

    @Setup
    public void setup() {
      ModelRepository repository = ModelRepository.scan(Path.of(models));
      ModelPackage pkg =
          repository
              .find(features)
              .orElseThrow(
                  () -> new IllegalArgumentException("features: no package '" + features + "'"));
      network = FeatureNetwork.open(pkg, Device.cpu());
    }

    @StartBundle
    public void startBundle() {
      pending = new ArrayList<>();
    }

    @ProcessElement
    public void process(@Element FileIO.ReadableFile file, OutputReceiver<float[]> out)
        throws IOException {
      try (InputStream in = Channels.newInputStream(file.open())) {
        var image = ImageIO.read(in);
        if (image == null) {
          throw new IllegalArgumentException(
              file.getMetadata().resourceId() + " is not a readable PNG or JPEG image");
        }
        pending.add(RgbImage.fromBufferedImage(image));
      }
      if (pending.size() >= BATCH) {
        for (float[] v : network.run(pending).features()) {
          out.output(v);
        }
        pending.clear();
      }
    }

    @FinishBundle
    public void finishBundle(FinishBundleContext context) {
      if (!pending.isEmpty()) {
        for (float[] v : network.run(pending).features()) {
          context.output(v, GlobalWindow.INSTANCE.maxTimestamp(), GlobalWindow.INSTANCE);
        }
        pending.clear();
      }
    }

    @Teardown
    public void teardown() {
      if (network != null) {
        network.close();
      }
    }
  }

  /** Sum and count, for the mean (float64). */
  static final class Sum implements Serializable {
    private static final long serialVersionUID = 1L;
    double[] values;
    long count;

    @Override
    public boolean equals(Object o) {
      return o instanceof Sum s && s.count == count && java.util.Arrays.equals(s.values, values);
    }

    @Override
    public int hashCode() {
      return 31 * java.util.Arrays.hashCode(values) + Long.hashCode(count);
    }
  }

  static final class MeanFn extends Combine.CombineFn<float[], Sum, double[]> {
    private static final long serialVersionUID = 1L;

    @Override
    public Sum createAccumulator() {
      return new Sum();
    }

    @Override
    public Sum addInput(Sum acc, float[] v) {
      if (acc.values == null) {
        acc.values = new double[v.length];
      }
      for (int i = 0; i < v.length; i++) {
        acc.values[i] += v[i];
      }
      acc.count++;
      return acc;
    }

    @Override
    public Sum mergeAccumulators(Iterable<Sum> accumulators) {
      Sum merged = new Sum();
      for (Sum a : accumulators) {
        if (a.values == null) {
          continue;
        }
        if (merged.values == null) {
          merged.values = new double[a.values.length];
        }
        for (int i = 0; i < a.values.length; i++) {
          merged.values[i] += a.values[i];
        }
        merged.count += a.count;
      }
      return merged;
    }

    @Override
    public double[] extractOutput(Sum acc) {
      double[] mean = new double[acc.values.length];
      for (int i = 0; i < mean.length; i++) {
        mean[i] = acc.values[i] / acc.count;
      }
      return mean;
    }
  }

  /** Σ (x − μ)(x − μ)ᵀ (upper triangle) and the count, with μ from the first pass. */
  static final class ScatterFn
      extends org.apache.beam.sdk.transforms.CombineWithContext.CombineFnWithContext<
          float[], Sum, Sum> {
    private static final long serialVersionUID = 1L;
    private final PCollectionView<double[]> meanView;

    ScatterFn(PCollectionView<double[]> meanView) {
      this.meanView = meanView;
    }

    @Override
    public Sum createAccumulator(org.apache.beam.sdk.transforms.CombineWithContext.Context c) {
      return new Sum();
    }

    @Override
    public Sum addInput(
        Sum acc, float[] v, org.apache.beam.sdk.transforms.CombineWithContext.Context c) {
      double[] mu = c.sideInput(meanView);
      int d = v.length;
      if (acc.values == null) {
        acc.values = new double[d * d];
      }
      double[] centred = new double[d];
      for (int i = 0; i < d; i++) {
        centred[i] = v[i] - mu[i];
      }
      for (int i = 0; i < d; i++) {
        double ci = centred[i];
        int base = i * d;
        for (int j = i; j < d; j++) {
          acc.values[base + j] += ci * centred[j];
        }
      }
      acc.count++;
      return acc;
    }

    @Override
    public Sum mergeAccumulators(
        Iterable<Sum> accumulators, org.apache.beam.sdk.transforms.CombineWithContext.Context c) {
      return new MeanFn().mergeAccumulators(accumulators);
    }

    @Override
    public Sum extractOutput(Sum acc, org.apache.beam.sdk.transforms.CombineWithContext.Context c) {
      return acc;
    }
  }

  /** Writes mu and sigma (ddof = 1) as pytorch-fid's .npz. */
  static final class WriteStatsFn extends DoFn<Sum, Void> {
    private static final long serialVersionUID = 1L;
    private final String output;
    private final PCollectionView<double[]> meanView;

    WriteStatsFn(String output, PCollectionView<double[]> meanView) {
      this.output = output;
      this.meanView = meanView;
    }

    @ProcessElement
    public void process(@Element Sum scatter, ProcessContext context) throws IOException {
      if (scatter.count < 2) {
        throw new IllegalArgumentException(
            "a covariance needs at least 2 images, got " + scatter.count);
      }
      write(stats(context.sideInput(meanView), scatter), output);
    }
  }

  static GaussianStats stats(double[] mu, Sum scatter) {
    int d = mu.length;
    DMatrixRMaj sigma = new DMatrixRMaj(d, d);
    for (int i = 0; i < d; i++) {
      for (int j = i; j < d; j++) {
        double v = scatter.values[i * d + j] / (scatter.count - 1);
        sigma.set(i, j, v);
        sigma.set(j, i, v);
      }
    }
    return GaussianStats.of(mu, sigma, (int) scatter.count);
  }

  static void write(GaussianStats stats, String output) throws IOException {
    Path tmp = Files.createTempFile("genloom-stats-", ".npz");
    try {
      StatsFiles.save(stats, tmp);
      try (OutputStream out =
          Channels.newOutputStream(
              FileSystems.create(
                  FileSystems.matchNewResource(output, false), "application/octet-stream"))) {
        Files.copy(tmp, out);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
