package dev.genloom.bench;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.genloom.evaluation.Statistics;
import dev.genloom.generators.ModelRepository;
import dev.genloom.pipelines.GeneratePipeline;
import dev.genloom.pipelines.GeneratePipelineOptions;
import dev.genloom.pipelines.RunCounts;
import dev.genloom.proto.RunRecords;
import dev.genloom.proto.v1.RunRecord;
import dev.genloom.workers.WorkerOptions;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.beam.runners.direct.DirectOptions;
import org.apache.beam.runners.direct.DirectRunner;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;

/**
 * Pipeline overhead: items/s through the Beam pipeline (DirectRunner, media and manifest written)
 * against the same in-process worker driven directly by closed-loop gRPC clients, at equal
 * concurrency and batch size, rounds alternated in one process; medians and their ratio.
 */
public final class PipelineBenchmark {
  /**
   * What to run.
   *
   * @param model the package generated with its defaults
   * @param items items per measurement
   * @param rounds alternating rounds of each
   * @param batch the worker's and the pipeline's batch size
   */
  public record Settings(String model, int items, int rounds, int batch) {
    public Settings {
      if (items < 2 || rounds < 1 || batch < 1) {
        throw new BenchmarkException("items must be >= 2, rounds and batch >= 1");
      }
    }

    int concurrency() {
      return 2 * batch;
    }
  }

  /** Both series and their medians. */
  public record Result(
      int items,
      int concurrency,
      int batch,
      @JsonProperty("direct_items_per_s") double[] direct,
      @JsonProperty("pipeline_items_per_s") double[] pipeline,
      @JsonProperty("direct_median") double directMedian,
      @JsonProperty("pipeline_median") double pipelineMedian,
      double ratio) {}

  private final Settings settings;
  private final PrintWriter out;

  public PipelineBenchmark(Settings settings, PrintWriter out) {
    this.settings = settings;
    this.out = out;
  }

  public Result run(ModelRepository repository) throws Exception {
    BenchModels.require(repository, settings.model());
    int rounds = settings.rounds();
    int concurrency = settings.concurrency();
    double[] direct = new double[rounds];
    double[] pipeline = new double[rounds];
    Path dir = Files.createTempDirectory("genloom-bench-pipeline-");
    try (LoopbackWorker worker =
        LoopbackWorker.start(
            repository,
            WorkerOptions.defaults().withBatching(settings.batch(), 20, 4 * concurrency))) {
      Path prompts = dir.resolve("prompts.txt");
      StringBuilder lines = new StringBuilder();
      for (int i = 0; i < settings.items(); i++) {
        lines.append("a red circle on a blue background ").append(i).append('\n');
      }
      Files.writeString(prompts, lines);
      out.printf(
          Locale.ROOT,
          "%s defaults, %d items per measurement, concurrency %d, batch %d, %d rounds%n",
          settings.model(),
          settings.items(),
          concurrency,
          settings.batch(),
          rounds);
      ClosedLoopLoad load =
          new ClosedLoopLoad(settings.model(), "a red circle on a blue background", 0);
      load.run(worker.channel(), concurrency, 2 * concurrency); // warm-up
      for (int r = 0; r < rounds; r++) {
        direct[r] = load.run(worker.channel(), concurrency, settings.items()).throughput();
        pipeline[r] = throughPipeline(prompts, dir.resolve("out-" + r), worker.address());
        out.printf(
            Locale.ROOT,
            "  round %d: direct %.2f items/s, pipeline %.2f items/s%n",
            r + 1,
            direct[r],
            pipeline[r]);
        out.flush();
      }
    } finally {
      TempTree.delete(dir);
    }
    double d = Statistics.median(direct);
    double p = Statistics.median(pipeline);
    out.printf(
        Locale.ROOT,
        "median: direct %.2f items/s, pipeline %.2f items/s, ratio %.3f%n",
        d,
        p,
        p / d);
    out.flush();
    return new Result(
        settings.items(), concurrency, settings.batch(), direct, pipeline, d, p, p / d);
  }

  /**
   * Items/s from the first request to the end: graph building and prompt expansion, which do not
   * depend on the workers, are excluded.
   */
  private double throughPipeline(Path prompts, Path runDir, String worker) throws Exception {
    int inFlight = settings.concurrency();
    PipelineOptionsFactory.register(GeneratePipelineOptions.class);
    GeneratePipelineOptions options = PipelineOptionsFactory.as(GeneratePipelineOptions.class);
    options.setRunner(DirectRunner.class);
    options.as(DirectOptions.class).setTargetParallelism(1);
    options.as(DirectOptions.class).setBlockOnRun(false);
    options.setPrompts(prompts.toString());
    options.setOut(runDir.toString());
    options.setModel(settings.model());
    options.setWorkers(worker);
    options.setBatchSize(inFlight / 2);
    options.setMaxInFlight(inFlight);
    PipelineResult result = GeneratePipeline.run(options);
    PipelineWatch watch = PipelineWatch.await(result, runDir, 50, () -> {});
    if (watch.state() != PipelineResult.State.DONE) {
      throw new IllegalStateException("pipeline ended " + watch.state());
    }
    long generated = RunCounts.of(result).generated();
    // The first request left about one item's wall time before the first item finished; counting
    // from there, like the direct clients count from their first request, is fair to both.
    double firstWallSeconds =
        Statistics.median(
                RunRecords.read(runDir).stream().mapToDouble(RunRecord::getWallMs).toArray())
            / 1000;
    return generated / ((watch.endNanos() - watch.firstMediaNanos()) / 1e9 + firstWallSeconds);
  }
}
