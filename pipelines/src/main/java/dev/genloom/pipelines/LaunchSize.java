package dev.genloom.pipelines;

import dev.genloom.proto.v1.GeneratorConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * How many items a launch will produce, for progress bars: every item times the seeds and
 * configurations it selects, with malformed lines counted once (each becomes a dead letter).
 */
public final class LaunchSize {
  private LaunchSize() {}

  /** The item count, or -1 when the prompts are not a local file (e.g. a glob or gs://). */
  public static long estimate(GeneratePipelineOptions options) {
    Path file = Path.of(options.getPrompts());
    if (!Files.isRegularFile(file)) {
      return -1;
    }
    List<GeneratorConfig> configs = GeneratePipeline.configs(options);
    PromptFormat format = PromptFormat.forFile(file.toString());
    List<String> header = List.of();
    long total = 0;
    try {
      List<String> lines = Files.readAllLines(file);
      for (int i = 0; i < lines.size(); i++) {
        String line = lines.get(i);
        if (format.skips(line)) {
          continue;
        }
        if (format == PromptFormat.TSV && header.isEmpty()) {
          header = Arrays.asList(line.split("\t", -1));
          continue;
        }
        try {
          ItemOverrides overrides = format.parse(file.toString(), i + 1, line, header).overrides();
          long selected = configs.stream().filter(c -> overrides.selects(c.getId())).count();
          total += selected == 0 ? 1 : selected * overrides.seedsOr(options.getSeeds());
        } catch (IllegalArgumentException e) {
          total++;
        }
      }
    } catch (IOException e) {
      return -1;
    }
    return total;
  }
}
