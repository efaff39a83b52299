package dev.genloom.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.evaluation.Statistics;
import dev.genloom.generators.ModelRepository;
import dev.genloom.pipelines.GeneratePipeline;
import dev.genloom.pipelines.GeneratePipelineOptions;
import dev.genloom.proto.RunLayout;
import dev.genloom.workers.WorkerMetrics;
import dev.genloom.workers.WorkerOptions;
import dev.genloom.workers.WorkerServer;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.beam.runners.direct.DirectOptions;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code genloom bench pipeline}: end-to-end items/s through the Beam pipeline against the same
 * loopback worker driven directly by closed-loop gRPC clients, at equal concurrency and batch size,
 * alternating in one process; medians and their ratio.
 */
@Command(
    name = "pipeline",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Pipeline overhead: tiny-ldm items/s through the Beam pipeline (DirectRunner, media and"
          + " manifest written) against the same in-process worker driven directly by gRPC"
          + " clients, same concurrency and batch size, rounds alternated; medians and the ratio."
    })
final class BenchPipelineCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(
      names = "--items",
      paramLabel = "N",
      description = "Items per measurement (default: ${DEFAULT-VALUE}).",
      defaultValue = "96")
  int items;

  @Option(
      names = "--rounds",
      paramLabel = "R",
      description = "Alternating rounds of each (default: ${DEFAULT-VALUE}).",
      defaultValue = "3")
  int rounds;

  @Option(
      names = "--batch",
      paramLabel = "B",
      description = "Worker batch and pipeline batch size (default: ${DEFAULT-VALUE}).",
      defaultValue = "8")
  int batch;

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
  Path json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (items < 2 || rounds < 1 || batch < 1) {
      throw new UserException("items must be >= 2, rounds and batch >= 1");
    }
    PrintWriter out = spec.commandLine().getOut();
    ModelRepository repository = modelsOption.repository();
    if (repository.find("tiny-ldm").isEmpty()) {
      throw new UserException("models: the benchmark needs the tiny-ldm package");
    }
    int concurrency = 2 * batch;
    WorkerServer server =
        WorkerServer.start(
            Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()),
            repository,
            WorkerOptions.defaults().withBatching(batch, 20, 4 * concurrency),
            new WorkerMetrics(),
            List.of());
    ManagedChannel channel = null;
    Path dir = Files.createTempDirectory("genloom-bench-pipeline-");
    double[] direct = new double[rounds];
    double[] pipeline = new double[rounds];
    try {
      server.ready().get(10, TimeUnit.MINUTES);
      channel =
          Grpc.newChannelBuilderForAddress(
                  "127.0.0.1", server.port(), InsecureChannelCredentials.create())
              .build();
      Path prompts = dir.resolve("prompts.txt");
      StringBuilder lines = new StringBuilder();
      for (int i = 0; i < items; i++) {
        lines.append("a red circle on a blue background ").append(i).append('\n');
      }
      Files.writeString(prompts, lines);
      out.printf(
          Locale.ROOT,
          "tiny-ldm defaults, %d items per measurement, concurrency %d, batch %d, %d rounds%n",
          items,
          concurrency,
          batch,
          rounds);
      BenchWorkerCommand.run(channel, concurrency, 2 * concurrency, 0); // warm-up
      for (int r = 0; r < rounds; r++) {
        direct[r] = BenchWorkerCommand.run(channel, concurrency, items, 0).throughput();
        pipeline[r] =
            throughPipeline(
                prompts, dir.resolve("out-" + r), "127.0.0.1:" + server.port(), concurrency);
        out.printf(
            Locale.ROOT,
            "  round %d: direct %.2f items/s, pipeline %.2f items/s%n",
            r + 1,
            direct[r],
            pipeline[r]);
        out.flush();
      }
    } finally {
      if (channel != null) {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      server.drain(30);
    }
    double d = Statistics.median(direct);
    double p = Statistics.median(pipeline);
    out.printf(
        Locale.ROOT,
        "median: direct %.2f items/s, pipeline %.2f items/s, ratio %.3f%n",
        d,
        p,
        p / d);
    if (json != null) {
      ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
      ObjectNode root = mapper.createObjectNode();
      root.put("items", items);
      root.put("concurrency", concurrency);
      root.put("batch", batch);
      root.set("direct_items_per_s", mapper.valueToTree(direct));
      root.set("pipeline_items_per_s", mapper.valueToTree(pipeline));
      root.put("direct_median", d);
      root.put("pipeline_median", p);
      root.put("ratio", p / d);
      Files.writeString(json, mapper.writeValueAsString(root) + "\n");
    }
    out.flush();
    return 0;
  }

  /**
   * Items/s from the first request to the end: graph building and prompt expansion, which do not
   * depend on the workers, are excluded.
   */
  private static double throughPipeline(Path prompts, Path out, String worker, int inFlight)
      throws Exception {
    PipelineOptionsFactory.register(GeneratePipelineOptions.class);
    GeneratePipelineOptions options = PipelineOptionsFactory.as(GeneratePipelineOptions.class);
    options.setRunner(org.apache.beam.runners.direct.DirectRunner.class);
    options.as(DirectOptions.class).setTargetParallelism(1);
    options.as(DirectOptions.class).setBlockOnRun(false);
    options.setPrompts(prompts.toString());
    options.setOut(out.toString());
    options.setModel("tiny-ldm");
    options.setWorkers(worker);
    options.setBatchSize(inFlight / 2);
    options.setMaxInFlight(inFlight);
    PipelineResult result = GeneratePipeline.run(options);
    PipelineWatch watch = PipelineWatch.await(result, out, 50, () -> {});
    if (watch.state() != PipelineResult.State.DONE) {
      throw new IllegalStateException("pipeline ended " + watch.state());
    }
    long firstAt = watch.firstMediaNanos();
    long end = watch.endNanos();
    long generated = RunCounts.counter(result, "generated");
    // The first request left about one item's wall time before the first item finished; counting
    // from there, like the direct clients count from their first request, is fair to both.
    List<Double> walls = new java.util.ArrayList<>();
    ObjectMapper mapper = new ObjectMapper();
    for (String line : Files.readAllLines(out.resolve(RunLayout.MANIFEST))) {
      if (!line.isBlank()) {
        walls.add(mapper.readTree(line).path("wall_ms").asDouble());
      }
    }
    double firstWallSeconds =
        Statistics.median(walls.stream().mapToDouble(Double::doubleValue).toArray()) / 1000;
    return generated / ((end - firstAt) / 1e9 + firstWallSeconds);
  }
}
