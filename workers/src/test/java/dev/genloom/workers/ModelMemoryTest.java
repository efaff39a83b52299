package dev.genloom.workers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The memory limit admits packages by their weights and refuses, by name, the one that does not
 * fit; /metrics reports each model's resident memory once it has served a request.
 */
class ModelMemoryTest {
  @TempDir Path temp;

  @Test
  void theModelThatDoesNotFitIsRefusedByName() throws Exception {
    ModelRepository repo =
        ModelRepository.scan(ShippedModels.folder(temp, "tiny-ldm", "tiny-dit-video"));
    Map<String, Long> weights = ModelMemory.weightBytes(repo);
    assertEquals(List.of("tiny-dit-video", "tiny-ldm"), List.copyOf(weights.keySet()));
    long both = weights.get("tiny-dit-video") + weights.get("tiny-ldm");
    ModelMemory.admit(repo, both);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelMemory.admit(repo, both - 1));
    assertTrue(e.getMessage().startsWith("memory-limit: model 'tiny-ldm' needs "), e.getMessage());
    assertTrue(e.getMessage().contains("tiny-dit-video ("), e.getMessage());
    IllegalArgumentException server =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                WorkerServer.start(
                    InProcessServerBuilder.forName(InProcessServerBuilder.generateName()),
                    repo,
                    WorkerOptions.defaults().withMemoryLimit(weights.get("tiny-dit-video")),
                    new WorkerMetrics(),
                    List.of()));
    assertTrue(server.getMessage().contains("model 'tiny-ldm'"), server.getMessage());
  }

  @Test
  void aFileSharedByTwoComponentsCountsOnce() throws Exception {
    Path folder = ShippedModels.folder(temp, "tiny-ar-s1");
    ModelRepository repo = ModelRepository.scan(folder);
    long files = 0;
    for (String file : List.of("transformer.pt", "vq_encoder.pt", "vq_decoder.pt")) {
      files += java.nio.file.Files.size(folder.resolve("tiny-ar-s1").resolve(file));
    }
    // prefill and decode both name transformer.pt: its weights are loaded, and counted, once.
    assertEquals(Map.of("tiny-ar-s1", files), ModelMemory.weightBytes(repo));
    ModelMemory.admit(repo, files);
  }

  @Test
  void metricsReportEachModelsResidentMemoryOnceLoaded() throws Exception {
    ModelRepository repo =
        ModelRepository.scan(ShippedModels.folder(temp, "tiny-ldm", "tiny-dit-video"));
    WorkerMetrics metrics = new WorkerMetrics();
    String name = InProcessServerBuilder.generateName();
    WorkerServer server =
        WorkerServer.start(
            InProcessServerBuilder.forName(name),
            repo,
            WorkerOptions.defaults().withMemoryLimit(1L << 30),
            metrics,
            List.of());
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    try {
      server.ready().get(120, TimeUnit.SECONDS);
      GenerationServiceGrpc.newBlockingStub(channel)
          .generate(
              GenerateRequest.newBuilder()
                  .setModel("tiny-ldm")
                  .setPrompt("a red circle")
                  .setSteps(2)
                  .build())
          .forEachRemaining(event -> {});
      String text = metrics.render();
      long ldm = resident(text, "tiny-ldm");
      assertTrue(ldm > 0, "tiny-ldm's components are resident: " + text);
      assertTrue(text.contains("genloom_model_weight_bytes{model=\"tiny-ldm\"} "), text);
      assertTrue(text.contains("genloom_process_resident_bytes "), text);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.close();
    }
  }

  private static long resident(String metrics, String model) {
    Matcher m =
        Pattern.compile(
                "^genloom_model_resident_bytes\\{model=\"" + Pattern.quote(model) + "\"\\} (\\d+)$",
                Pattern.MULTILINE)
            .matcher(metrics);
    assertTrue(m.find(), model + " is reported:\n" + metrics);
    return Long.parseLong(m.group(1));
  }
}
