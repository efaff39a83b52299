package dev.genloom.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.genloom.pipelines.testing.RunAudit;
import dev.genloom.proto.RunLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The batch pipeline on the DirectRunner against real loopback workers. */
class GeneratePipelineTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path temp;

  private GeneratePipelineOptions options(Path prompts, Path out, String workers, String runner)
      throws Exception {
    Path grid = temp.resolve("grid.json");
    Files.writeString(grid, "{\"models\": [\"tiny-ldm\"], \"steps\": [2]}");
    return PipelineOptionsFactory.fromArgs(
            "--runner=" + runner,
            "--prompts=" + prompts,
            "--out=" + out,
            "--grid=" + grid,
            "--seeds=2",
            "--workers=" + workers,
            "--batchSize=4",
            "--initialBackoffMillis=20")
        .as(GeneratePipelineOptions.class);
  }

  static List<JsonNode> lines(Path file) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(file)) {
      if (!line.isBlank()) {
        out.add(JSON.readTree(line));
      }
    }
    return out;
  }

  private Path prompts() throws Exception {
    Path real =
        Path.of("..", "examples", "real-shapes", "real_000.png").toAbsolutePath().normalize();
    Path prompts = temp.resolve("prompts.jsonl");
    Files.writeString(
        prompts,
        String.join(
            "\n",
            "{\"prompt\": \"a red circle on a blue background\", \"id\": \"a\"}",
            "{\"prompt\": \"a green square on a white background\"}",
            "this line is not json",
            "{\"prompt\": \"a black triangle on a orange background\", \"reference_image\": \""
                + real
                + "\"}",
            "{\"prompt\": \"a blue square on a red background\", \"reference_image\": \"/nonexistent/ref.png\"}",
            "{\"id\": \"no-prompt\"}",
            ""));
    return prompts;
  }

  @Test
  void malformedLinesAndMissingReferencesAreDeadLetteredAndTheRestCompletes() throws Exception {
    Path out = temp.resolve("out");
    try (LoopbackWorkers workers = LoopbackWorkers.start(temp, 1)) {
      PipelineResult.State state =
          GeneratePipeline.run(options(prompts(), out, workers.addresses(), "DirectRunner"))
              .waitUntilFinish();
      assertEquals(PipelineResult.State.DONE, state);
    }
    // 4 parseable prompts x 2 seeds; the missing reference fails for both seeds.
    RunAudit.of(out).requireExactlyOnce(8, 6);
    for (JsonNode line : lines(out.resolve(RunLayout.MANIFEST))) {
      if (line.get("status").asText().equals("STATUS_OK")) {
        assertTrue(line.get("block_evals").asLong() > 0, line.toString());
      }
    }
    List<JsonNode> dead = lines(out.resolve(RunLayout.DEAD_LETTER));
    Map<Long, Integer> byLine = new HashMap<>();
    for (JsonNode letter : dead) {
      byLine.merge(letter.get("line").asLong(), 1, Integer::sum);
    }
    assertEquals(Map.of(3L, 1, 5L, 2, 6L, 1), byLine, dead.toString());
    assertTrue(dead.toString().contains("reference_image: cannot read"), dead.toString());
  }

  @Test
  void perItemConfigurationsSeedsAndStepsAreHonoured() throws Exception {
    Path prompts = temp.resolve("items.jsonl");
    Files.writeString(
        prompts,
        String.join(
            "\n",
            "{\"prompt\": \"a red circle on a blue background\", \"configs\": [\"tiny-ldm_2\"],"
                + " \"seeds\": 1}",
            "{\"prompt\": \"a red circle on a blue background\", \"configs\": [\"nope\"]}",
            "{\"prompt\": \"a red circle on a blue background\", \"steps\": 3}",
            ""));
    Path out = temp.resolve("out-items");
    try (LoopbackWorkers workers = LoopbackWorkers.start(temp, 1)) {
      assertEquals(
          PipelineResult.State.DONE,
          GeneratePipeline.run(options(prompts, out, workers.addresses(), "DirectRunner"))
              .waitUntilFinish());
    }
    Map<Long, List<JsonNode>> byLine = new HashMap<>();
    for (JsonNode line : lines(out.resolve(RunLayout.MANIFEST))) {
      assertEquals("STATUS_OK", line.get("status").asText(), line.toString());
      byLine.computeIfAbsent(line.get("source_line").asLong(), k -> new ArrayList<>()).add(line);
    }
    assertEquals(Set.of(1L, 3L), byLine.keySet());
    assertEquals(1, byLine.get(1L).size(), "seeds override");
    assertEquals(2, byLine.get(3L).size(), "launch seeds");
    long twoSteps = byLine.get(1L).get(0).get("block_evals").asLong();
    for (JsonNode line : byLine.get(3L)) {
      assertEquals(twoSteps * 3 / 2, line.get("block_evals").asLong(), "steps override");
      assertEquals("tiny-ldm_2", line.get("config").asText());
    }
    List<JsonNode> dead = lines(out.resolve(RunLayout.DEAD_LETTER));
    assertEquals(1, dead.size(), dead.toString());
    assertEquals(2, dead.get(0).get("line").asLong());
    assertTrue(
        dead.get(0).get("error").asText().contains("none of [nope] is a configuration"),
        dead.toString());
  }

  @Test
  void mutualTlsAndTokenReachASecuredWorkerAndAMissingTokenIsDeadLettered() throws Exception {
    Path prompts = temp.resolve("two.txt");
    Files.writeString(
        prompts, "a red circle on a blue background\na green square on a white background\n");
    Path token = temp.resolve("token.txt");
    Files.writeString(token, "pipeline-test-token\n");
    try (LoopbackWorkers workers = LoopbackWorkers.startSecure(temp, "pipeline-test-token")) {
      String address = "localhost:" + workers.servers.get(0).port();
      Path out = temp.resolve("secure");
      GeneratePipelineOptions options = options(prompts, out, address, "DirectRunner");
      options.setWorkerTls(true);
      options.setWorkerCaCert(LoopbackWorkers.cert("ca.pem").toString());
      options.setWorkerClientCert(LoopbackWorkers.cert("client.pem").toString());
      options.setWorkerClientKey(LoopbackWorkers.cert("client.key").toString());
      options.setWorkerTokenFile(token.toString());
      assertEquals(PipelineResult.State.DONE, GeneratePipeline.run(options).waitUntilFinish());
      List<JsonNode> manifest = lines(out.resolve(RunLayout.MANIFEST));
      assertEquals(4, manifest.size());
      manifest.forEach(l -> assertEquals("STATUS_OK", l.get("status").asText(), l.toString()));

      Path refused = temp.resolve("no-token");
      options = options(prompts, refused, address, "DirectRunner");
      options.setWorkerTls(true);
      options.setWorkerCaCert(LoopbackWorkers.cert("ca.pem").toString());
      options.setWorkerClientCert(LoopbackWorkers.cert("client.pem").toString());
      options.setWorkerClientKey(LoopbackWorkers.cert("client.key").toString());
      options.setMaxAttempts(1);
      assertEquals(PipelineResult.State.DONE, GeneratePipeline.run(options).waitUntilFinish());
      List<JsonNode> dead = lines(refused.resolve(RunLayout.DEAD_LETTER));
      assertEquals(4, dead.size(), dead.toString());
      assertTrue(dead.get(0).get("error").asText().contains("UNAUTHENTICATED"), dead.toString());
    }
  }

  @Test
  void certificatesWithoutTlsAreRefusedBeforeTheRun() throws Exception {
    GeneratePipelineOptions options =
        options(prompts(), temp.resolve("x"), "127.0.0.1:1", "DirectRunner");
    options.setWorkerCaCert("ca.pem");
    IllegalArgumentException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class, () -> GeneratePipeline.run(options));
    assertTrue(e.getMessage().contains("--workerTls=true"), e.getMessage());
  }

  @Test
  void referencesComeFromAFolderMatchedById() throws Exception {
    Path folder = Files.createDirectories(temp.resolve("refs"));
    Files.copy(
        Path.of("..", "examples", "real-shapes", "real_000.png"), folder.resolve("cat-1.png"));
    Path prompts = temp.resolve("ids.jsonl");
    Files.writeString(
        prompts,
        String.join(
            "\n",
            "{\"id\": \"cat-1\", \"prompt\": \"a black triangle on a orange background\", \"seeds\": 1}",
            "{\"id\": \"cat-2\", \"prompt\": \"a red circle on a blue background\", \"seeds\": 1}",
            ""));
    Path out = temp.resolve("out-refs");
    try (LoopbackWorkers workers = LoopbackWorkers.start(temp, 1)) {
      GeneratePipelineOptions options = options(prompts, out, workers.addresses(), "DirectRunner");
      options.setReferenceDir(folder.toString());
      assertEquals(PipelineResult.State.DONE, GeneratePipeline.run(options).waitUntilFinish());
    }
    Map<String, String> references = new HashMap<>();
    for (JsonNode line : lines(out.resolve(RunLayout.MANIFEST))) {
      assertEquals("STATUS_OK", line.get("status").asText(), line.toString());
      references.put(
          line.get("item_id").asText(),
          line.has("reference_image") ? line.get("reference_image").asText() : "");
    }
    assertTrue(references.get("cat-1").endsWith("cat-1.png"), references.toString());
    assertEquals("", references.get("cat-2"), "no file for cat-2: text only");
  }

  @Test
  void aRestartedRunSkipsFinishedItemsAndWritesNothingTwice() throws Exception {
    Path out = temp.resolve("out");
    Path prompts = temp.resolve("prompts.txt");
    Files.writeString(
        prompts, "a red circle on a blue background\na green square on a white background\n");
    try (LoopbackWorkers workers = LoopbackWorkers.start(temp, 1)) {
      GeneratePipeline.run(options(prompts, out, workers.addresses(), "DirectRunner"))
          .waitUntilFinish();
      List<JsonNode> first = lines(out.resolve(RunLayout.MANIFEST));
      assertEquals(4, first.size());
      // Simulate an interrupted run: one item's media is gone; the others are stamped.
      Path lost = out.resolve(first.get(0).get("media").asText());
      Files.delete(lost);
      FileTime stamp = FileTime.fromMillis(1_000_000_000_000L);
      for (JsonNode line : first.subList(1, 4)) {
        Files.setLastModifiedTime(out.resolve(line.get("media").asText()), stamp);
      }
      GeneratePipeline.run(options(prompts, out, workers.addresses(), "DirectRunner"))
          .waitUntilFinish();
      RunAudit.of(out).requireExactlyOnce(4, 4);
      assertTrue(Files.isRegularFile(lost), "the lost item was regenerated");
      for (JsonNode line : first.subList(1, 4)) {
        assertEquals(
            stamp,
            Files.getLastModifiedTime(out.resolve(line.get("media").asText())),
            "not regenerated");
      }
    }
  }

  @Test
  void aWorkerKilledMidRunStillYieldsEveryItemExactlyOnce() throws Exception {
    Path out = temp.resolve("out");
    Path prompts = temp.resolve("prompts.txt");
    StringBuilder text = new StringBuilder();
    String[] colors = {"red", "green", "blue", "yellow", "white", "black", "purple", "orange"};
    for (int i = 0; i < 12; i++) {
      text.append("a ")
          .append(colors[i % 8])
          .append(i < 8 ? " circle on a " : " square on a ")
          .append(colors[(i + 3) % 8])
          .append(" background\n");
    }
    Files.writeString(prompts, text.toString());
    try (LoopbackWorkers workers = LoopbackWorkers.start(temp, 2)) {
      var victim = workers.servers.get(0);
      GeneratePipelineOptions options = options(prompts, out, workers.addresses(), "DirectRunner");
      options.as(org.apache.beam.runners.direct.DirectOptions.class).setBlockOnRun(false);
      PipelineResult result = GeneratePipeline.run(options);
      // Kill the first worker as soon as it has served something.
      assertTrue(victim.metrics().awaitRequests("ok", 1, TimeUnit.SECONDS.toMillis(120)));
      victim.drain(0);
      assertEquals(PipelineResult.State.DONE, result.waitUntilFinish());
    }
    List<JsonNode> manifest = lines(out.resolve(RunLayout.MANIFEST));
    assertEquals(24, manifest.size());
    assertEquals(24, manifest.stream().map(l -> l.get("request_id").asText()).distinct().count());
    assertEquals(
        List.of(),
        manifest.stream().filter(l -> !l.get("status").asText().equals("STATUS_OK")).toList(),
        "failed items");
    try (var media = Files.list(out.resolve("media"))) {
      assertEquals(24, media.count());
    }
  }

  static long counter(PipelineResult result, String name) {
    long sum = 0;
    for (var c :
        result
            .metrics()
            .queryMetrics(
                org.apache.beam.sdk.metrics.MetricsFilter.builder()
                    .addNameFilter(
                        org.apache.beam.sdk.metrics.MetricNameFilter.named("genloom", name))
                    .build())
            .getCounters()) {
      sum += c.getAttempted();
    }
    return sum;
  }

  @Test
  void aRunKilledBeforeItsManifestResumesFromTheItemRecords() throws Exception {
    Path out = temp.resolve("out");
    Path prompts = temp.resolve("prompts.txt");
    Files.writeString(
        prompts, "a red circle on a blue background\na green square on a white background\n");
    try (LoopbackWorkers workers = LoopbackWorkers.start(temp, 1)) {
      PipelineResult first =
          GeneratePipeline.run(options(prompts, out, workers.addresses(), "DirectRunner"));
      first.waitUntilFinish();
      assertEquals(4, counter(first, "generated"));
      // What a driver killed mid-run leaves: records and media of finished items, no manifest,
      // and half-written temporaries.
      Files.delete(out.resolve(RunLayout.MANIFEST));
      try (var records = Files.list(out.resolve(RunLayout.RECORDS))) {
        assertEquals(4, records.count(), "one record per finished item");
      }
      // two of them as the version before the status enum wrote them
      try (var records = Files.list(out.resolve(RunLayout.RECORDS))) {
        for (Path record : records.sorted().limit(2).toList()) {
          String line = Files.readString(record);
          assertTrue(line.contains("\"status\":\"STATUS_OK\""), line);
          Files.writeString(record, line.replace("\"STATUS_OK\"", "\"ok\""));
        }
      }
      Files.writeString(out.resolve("media/.tmp-0123-half"), "partial");
      Files.writeString(out.resolve("records/.tmp-0123-half"), "{");
      Files.createDirectories(out.resolve(".temp-beam-0123"));
      Files.writeString(out.resolve(".temp-beam-0123/shard"), "partial manifest");
      FileTime stamp = FileTime.fromMillis(1_000_000_000_000L);
      List<Path> media;
      try (var files = Files.list(out.resolve("media"))) {
        media = files.filter(f -> !f.getFileName().toString().startsWith(".")).toList();
      }
      for (Path file : media) {
        Files.setLastModifiedTime(file, stamp);
      }
      PipelineResult second =
          GeneratePipeline.run(options(prompts, out, workers.addresses(), "DirectRunner"));
      assertEquals(PipelineResult.State.DONE, second.waitUntilFinish());
      assertEquals(0, counter(second, "generated"));
      assertEquals(4, counter(second, "skipped"));
      for (Path file : media) {
        assertEquals(stamp, Files.getLastModifiedTime(file), "not regenerated: " + file);
      }
    }
    RunAudit.of(out).requireExactlyOnce(4, 4);
  }

  @Test
  void itemsWithTheSameContentAreGeneratedOnceAndCountedAsMerged() throws Exception {
    Path out = temp.resolve("out");
    Path prompts = temp.resolve("prompts.jsonl");
    Files.writeString(
        prompts,
        "{\"prompt\": \"a red circle on a blue background\", \"id\": \"x\"}\n"
            + "{\"prompt\": \"a red circle on a blue background\", \"id\": \"y\"}\n"
            + "{\"prompt\": \"a green square on a white background\"}\n");
    try (LoopbackWorkers workers = LoopbackWorkers.start(temp, 1)) {
      PipelineResult result =
          GeneratePipeline.run(options(prompts, out, workers.addresses(), "DirectRunner"));
      assertEquals(PipelineResult.State.DONE, result.waitUntilFinish());
      assertEquals(4, counter(result, "generated"));
      assertEquals(2, counter(result, "merged"), "x and y share a request id for both seeds");
    }
    assertEquals(
        4,
        LaunchSize.estimate(options(prompts, out, "127.0.0.1:1", "DirectRunner")),
        "the progress total counts merged items once");
    List<JsonNode> manifest = lines(out.resolve(RunLayout.MANIFEST));
    assertEquals(4, manifest.size());
    for (JsonNode line : manifest) {
      if (line.get("prompt").asText().startsWith("a red")) {
        assertEquals("x", line.get("item_id").asText(), "the first line's item is kept");
      }
    }
  }

  @Test
  void aFolderAnEmptyFileOrAFileAsOutIsRefusedBeforeTheRun() throws Exception {
    Path empty = Files.writeString(temp.resolve("empty.txt"), "");
    Path prompts = Files.writeString(temp.resolve("p.txt"), "a red circle\n");
    Path file = Files.writeString(temp.resolve("out.txt"), "not a folder");
    String[][] cases = {
      {temp.toString(), temp.resolve("o").toString(), "is a folder"},
      {empty.toString(), temp.resolve("o").toString(), "is empty"},
      {temp.resolve("missing.txt").toString(), temp.resolve("o").toString(), "no file matches"},
      {prompts.toString(), file.toString(), "out: " + file + " is a file"},
    };
    for (String[] c : cases) {
      IllegalArgumentException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              IllegalArgumentException.class,
              () ->
                  GeneratePipeline.run(
                      options(Path.of(c[0]), Path.of(c[1]), "127.0.0.1:1", "DirectRunner")));
      assertTrue(e.getMessage().contains(c[2]), e.getMessage());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"item", "batch-on-an-older-worker"})
  void withoutGenerateBatchEachItemIsItsOwnGenerateCall(String mode) throws Exception {
    Path out = temp.resolve("out");
    Path prompts = temp.resolve("prompts.txt");
    Files.writeString(
        prompts,
        "a red circle on a blue background\na green square on a red background\n"
            + "a blue triangle on a white background\na yellow circle on a black background\n");
    boolean older = mode.startsWith("batch");
    try (LoopbackWorkers workers =
        older ? LoopbackWorkers.startWithoutBatchCalls(temp, 1) : LoopbackWorkers.start(temp, 1)) {
      GeneratePipelineOptions options = options(prompts, out, workers.addresses(), "DirectRunner");
      options.setWorkerCalls(older ? "batch" : "item");
      PipelineResult result = GeneratePipeline.run(options);
      assertEquals(PipelineResult.State.DONE, result.waitUntilFinish());
      // 4 prompts x 2 seeds, each one Generate call, none a retry
      assertEquals(8, workers.servers.get(0).metrics().requests("ok"));
      assertEquals(8, counter(result, "generated"));
      assertEquals(0, counter(result, "retries"));
    }
    List<JsonNode> manifest = lines(out.resolve(RunLayout.MANIFEST));
    assertEquals(8, manifest.size());
    assertTrue(manifest.stream().allMatch(l -> l.get("status").asText().equals("STATUS_OK")));
  }

  @Test
  void anUnknownWorkerCallsModeIsRefusedByName() throws Exception {
    GeneratePipelineOptions options =
        options(temp.resolve("p.txt"), temp.resolve("out"), "127.0.0.1:1", "DirectRunner");
    options.setWorkerCalls("grpc");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> GeneratePipeline.build(org.apache.beam.sdk.Pipeline.create(options), options));
    assertEquals("worker-calls: 'grpc' is not batch or item", e.getMessage());
  }

  @Test
  void batchesReachOneWorkerWholeThroughAWorkerKillAndRestart() throws Exception {
    Path out = temp.resolve("out");
    Path prompts = temp.resolve("prompts.txt");
    StringBuilder text = new StringBuilder();
    String[] colors = {"red", "green", "blue", "yellow", "white", "black", "purple", "orange"};
    for (int i = 0; i < 24; i++) {
      text.append("a ")
          .append(colors[i % 8])
          .append(i < 8 ? " circle" : i < 16 ? " square" : " triangle")
          .append(" on a ")
          .append(colors[(i + 3) % 8])
          .append(" background\n");
    }
    Files.writeString(prompts, text.toString());
    try (LoopbackWorkers workers = LoopbackWorkers.start(temp, 2)) {
      GeneratePipelineOptions options = options(prompts, out, workers.addresses(), "DirectRunner");
      options.as(org.apache.beam.runners.direct.DirectOptions.class).setBlockOnRun(false);
      // one batch in flight at a time, so that nothing but dispatch decides what a worker batches
      options.as(org.apache.beam.runners.direct.DirectOptions.class).setTargetParallelism(1);
      options.setMaxInFlight(4);
      PipelineResult result = GeneratePipeline.run(options);
      var victim = workers.servers.get(0);
      int victimPort = victim.port();
      assertTrue(victim.metrics().awaitRequests("ok", 4, TimeUnit.SECONDS.toMillis(120)));
      victim.drain(0); // killed: in-flight calls fail and are retried on the other worker
      assertTrue(
          workers.servers.get(1).metrics().awaitRequests("ok", 8, TimeUnit.SECONDS.toMillis(120)));
      workers.restart(temp, 0, victimPort);
      assertEquals(PipelineResult.State.DONE, result.waitUntilFinish());
    }
    List<JsonNode> manifest = lines(out.resolve(RunLayout.MANIFEST));
    assertEquals(48, manifest.size());
    assertEquals(48, manifest.stream().map(l -> l.get("request_id").asText()).distinct().count());
    double meanBatch =
        manifest.stream()
            .filter(l -> l.get("status").asText().equals("STATUS_OK"))
            .mapToInt(l -> l.get("batch_size").asInt())
            .average()
            .orElse(0);
    // pipeline batches of 4, each one GenerateBatch call; only the items the kill hit ran alone
    // (round-robin per item gave the workers about 2 at a time)
    assertTrue(meanBatch >= 3.5, "mean worker batch " + meanBatch + " of 4");
    try (var media = Files.list(out.resolve("media"))) {
      assertEquals(48, media.count());
    }
  }
}
