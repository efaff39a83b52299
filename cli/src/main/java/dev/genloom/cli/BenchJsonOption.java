package dev.genloom.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The benchmarks' shared {@code --json FILE} option: the results also go to a JSON file. */
final class BenchJsonOption {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
  Path json;

  /** With {@code --json}, writes {@code results} as indented JSON there and says so. */
  void write(Object results, PrintWriter out) throws IOException {
    if (json == null) {
      return;
    }
    Path parent = json.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.writeString(json, JSON.writeValueAsString(results) + "\n");
    out.println("wrote " + json);
    out.flush();
  }
}
