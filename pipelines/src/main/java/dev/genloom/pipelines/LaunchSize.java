package dev.genloom.pipelines;

import dev.genloom.proto.v1.GeneratorConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * How many items a launch will produce, for progress bars: every item times the seeds and
 * configurations it selects, items with the same request id once, and malformed lines once (each
 * becomes a dead letter).
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
    // Items the pipeline merges (same prompt, seed and configuration) count once. With a
    // reference folder, references come by item id later, so nothing is merged here.
    boolean merge = options.getReferenceDir() == null || options.getReferenceDir().isBlank();
    java.util.Set<String> requests = new java.util.HashSet<>();
    PromptLines.Sink sink =
        new PromptLines.Sink() {
          @Override
          public void item(PromptItem item) {
            ItemOverrides overrides = item.overrides();
            long selected = 0;
            for (GeneratorConfig config : configs) {
              if (!overrides.selects(config.getId())) {
                continue;
              }
              selected++;
              GeneratorConfig effective = overrides.apply(config);
              for (int seed = 0; seed < overrides.seedsOr(options.getSeeds()); seed++) {
                if (!merge || requests.add(WorkItem.of(item, seed, effective).requestId())) {
                  total[0]++;
                }
              }
            }
            if (selected == 0) {
              total[0]++; // dead-lettered: it selects no configuration
            }
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
