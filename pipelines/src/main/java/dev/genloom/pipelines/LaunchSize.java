package dev.genloom.pipelines;

import dev.genloom.proto.v1.GeneratorConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
    PromptLines lines = new PromptLines(file.toString());
    long[] total = {0};
    PromptLines.Sink sink =
        new PromptLines.Sink() {
          @Override
          public void item(PromptItem item) {
            ItemOverrides overrides = item.overrides();
            long selected = configs.stream().filter(c -> overrides.selects(c.getId())).count();
            total[0] += selected == 0 ? 1 : selected * overrides.seedsOr(options.getSeeds());
          }

          @Override
          public void malformed(long line, String text, String error) {
            total[0]++;
          }
        };
    try (var in = Files.newInputStream(file)) {
      lines.readAll(in, sink);
    } catch (IOException e) {
      return -1;
    }
    return total[0];
  }
}
