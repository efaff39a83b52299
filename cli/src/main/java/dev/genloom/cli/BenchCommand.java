package dev.genloom.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Command;

/** {@code genloom bench}: benchmarks whose results go to docs/benchmarks.md. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    subcommands = {
      BenchGeneratorsCommand.class,
      BenchWorkerCommand.class,
      BenchPipelineCommand.class,
      BenchFleetCommand.class,
      BenchImageCommand.class,
      BenchDoubleWorkerCommand.class
    },
    description = {
      "Benchmarks, run side by side in one process and reported as medians and ratios:",
      "  generators  tiny-ldm throughput, block caching vs fewer steps, DiT caching, Token-Shuffle",
      "  worker      tiny-ldm serving throughput and p50/p99 latency, batching off and on",
      "  pipeline    items/s through the pipeline vs the same worker driven directly",
      "  fleet       N worker processes (latency double), the real pipeline, kills and restarts",
      "  image       seconds per image and peak memory of one package at one size",
      "  double-worker  a worker serving latency doubles (TEST DOUBLE), for 'fleet'"
    })
final class BenchCommand implements Runnable {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Writes a benchmark's results as indented JSON to {@code file} and says so. */
  static void writeJson(Path file, Object results, PrintWriter out) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.writeString(file, JSON.writeValueAsString(results) + "\n");
    out.println("wrote " + file);
    out.flush();
  }
}
