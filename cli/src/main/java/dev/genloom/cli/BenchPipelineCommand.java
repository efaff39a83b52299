package dev.genloom.cli;

import dev.genloom.bench.BenchModels;
import dev.genloom.bench.PipelineBenchmark;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code genloom bench pipeline}: the options of {@link PipelineBenchmark}. */
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

  @Mixin BenchJsonOption json;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PipelineBenchmark.Settings settings =
        new PipelineBenchmark.Settings(BenchModels.SHIPPED.ldm(), items, rounds, batch);
    PipelineBenchmark.Result result =
        new PipelineBenchmark(settings, out).run(modelsOption.repository());
    json.write(result, out);
    out.flush();
    return 0;
  }
}
