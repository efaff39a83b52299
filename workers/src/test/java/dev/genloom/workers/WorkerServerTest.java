package dev.genloom.workers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.GenerateBatchRequest;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.GetModelRequest;
import dev.genloom.proto.v1.ListModelsRequest;
import dev.genloom.proto.v1.ModelKind;
import dev.genloom.proto.v1.OutputOptions;
import dev.genloom.proto.v1.PromptOverflow;
import dev.genloom.proto.v1.ReferenceImage;
import dev.genloom.proto.v1.Sampler;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class WorkerServerTest {
  @TempDir Path temp;
  private WorkerServer server;
  private ManagedChannel channel;

  private GenerationServiceGrpc.GenerationServiceBlockingStub start(WorkerOptions options)
      throws Exception {
    return start(options, "tiny-ldm", "shapes-features");
  }

  private GenerationServiceGrpc.GenerationServiceBlockingStub start(
      WorkerOptions options, String... packages) throws Exception {
    Path models = ShippedModels.folder(temp, packages);
    String name = InProcessServerBuilder.generateName();
    server =
        WorkerServer.start(
            InProcessServerBuilder.forName(name),
            ModelRepository.scan(models),
            options,
            new WorkerMetrics(),
            List.of());
    server.ready().get(120, TimeUnit.SECONDS);
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    return GenerationServiceGrpc.newBlockingStub(channel);
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.close();
    }
  }

  private static GenerateRequest.Builder request(String prompt, long seed) {
    return GenerateRequest.newBuilder()
        .setModel("tiny-ldm")
        .setPrompt(prompt)
        .setSeed(seed)
        .setSteps(4);
  }

  private static byte[] png(List<GenerateEvent> events) {
    GenerateEvent last = events.get(events.size() - 1);
    assertTrue(last.hasResult(), "last event is the result: " + last);
    return last.getResult().getMedia(0).getData().toByteArray();
  }

  private static List<GenerateEvent> collect(Iterator<GenerateEvent> stream) {
    List<GenerateEvent> events = new ArrayList<>();
    stream.forEachRemaining(events::add);
    return events;
  }

  @Test
  void listsGeneratorsAndHealthIsServing() throws Exception {
    var stub = start(WorkerOptions.defaults());
    var models = stub.listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
    assertEquals(1, models.size(), "feature networks are not listed as generators");
    assertEquals(ModelKind.MODEL_KIND_LATENT_DIFFUSION, models.get(0).getKind());
    assertFalse(
        stub.getModel(GetModelRequest.newBuilder().setName("tiny-ldm").build())
            .getQualityList()
            .isEmpty());
    assertEquals(
        ServingStatus.SERVING,
        HealthGrpc.newBlockingStub(channel)
            .check(HealthCheckRequest.newBuilder().setService(WorkerServer.SERVICE).build())
            .getStatus());
  }

  @Test
  void generateStreamsQueuedThenProgressThenAPngResult() throws Exception {
    var stub = start(WorkerOptions.defaults());
    List<GenerateEvent> events =
        collect(
            stub.generate(
                request("a red circle on a blue background", 3)
                    .setRequestId("r-1")
                    .setOutput(OutputOptions.newBuilder().setPreviewEvery(2))
                    .build()));
    assertTrue(events.get(0).hasQueued(), events.get(0).toString());
    assertEquals(0, events.get(0).getQueued().getPosition());
    List<GenerateEvent> progress = events.stream().filter(GenerateEvent::hasProgress).toList();
    assertEquals(4, progress.size());
    assertEquals(4, progress.get(3).getProgress().getStep());
    assertFalse(progress.get(1).getProgress().getPreviewPng().isEmpty(), "preview every 2 steps");
    GenerateEvent result = events.get(events.size() - 1);
    assertEquals("r-1", result.getRequestId());
    assertEquals("image/png", result.getResult().getMedia(0).getMimeType());
    BufferedImage image = ImageIO.read(new ByteArrayInputStream(png(events)));
    assertEquals(32, image.getWidth());
    assertTrue(result.getResult().getStats().getBlockEvals() > 0);
    assertEquals(3, result.getResult().getStats().getSeed());
  }

  @Test
  void aBudgetRunsTheCalibratedScheduleItPickedAndSaysWhich() throws Exception {
    var stub = start(WorkerOptions.defaults());
    GenerateRequest.Builder request =
        request("a red circle on a blue background", 1)
            .setSteps(50)
            .setSampler(Sampler.SAMPLER_DDIM)
            .setCachePolicy(
                dev.genloom.proto.v1.CachePolicy.newBuilder()
                    .setBudget(
                        dev.genloom.proto.v1.CachePolicy.Budget.newBuilder().setSpeedup(1.5)));
    List<GenerateEvent> events = collect(stub.generate(request.build()));
    var stats = events.get(events.size() - 1).getResult().getStats();
    assertTrue(stats.getCachePolicy().contains("for budget:1.5: calibrated"), stats.toString());
    assertEquals(
        List.of("block_eval_share", "wall_speedup", "psnr_db", "ssim"),
        stats.getCacheFiguresList().stream().map(f -> f.getMetric()).toList());
    double share = stats.getCacheFigures(0).getValue();
    assertTrue(share <= 1 / 1.5, stats.toString());
    assertTrue(stats.getBlockSkips() > 0, stats.toString());
    // what no calibrated schedule meets is refused before it is queued, naming the field
    var refused =
        assertThrows(
            io.grpc.StatusRuntimeException.class,
            () ->
                collect(
                    stub.generate(
                        request
                            .setCachePolicy(
                                dev.genloom.proto.v1.CachePolicy.newBuilder()
                                    .setBudget(
                                        dev.genloom.proto.v1.CachePolicy.Budget.newBuilder()
                                            .setSpeedup(1000)))
                            .build())));
    assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, refused.getStatus().getCode());
    assertTrue(
        refused.getStatus().getDescription().contains("largest budget it meets"),
        refused.getStatus().getDescription());
  }

  @ParameterizedTest
  @CsvSource({
    "model, unknown-model, 4, 4.0, 0",
    "steps, tiny-ldm, 1001, 4.0, 0",
    "guidance_scale, tiny-ldm, 4, NaN, 0",
    "prompt, tiny-ldm, 4, 4.0, 40",
    "width, tiny-ldm, 4, 4.0, 0",
    "reference_images, tiny-ldm, 4, 4.0, 0"
  })
  void invalidRequestsNameTheField(String field, String model, int steps, float guidance, int words)
      throws Exception {
    var stub = start(WorkerOptions.defaults());
    GenerateRequest.Builder request =
        GenerateRequest.newBuilder()
            .setModel(model)
            .setPrompt("a red circle" + " circle".repeat(words))
            .setSteps(steps)
            .setGuidanceScale(guidance);
    if (field.equals("width")) {
      request.setWidth(64).setHeight(64);
    }
    if (field.equals("prompt")) {
      request.setPromptOverflow(PromptOverflow.PROMPT_OVERFLOW_REFUSE);
    }
    if (field.equals("reference_images")) {
      request.addReferenceImages(
          ReferenceImage.newBuilder().setData(ByteString.copyFromUtf8("not an image")));
    }
    StatusRuntimeException e =
        assertThrows(StatusRuntimeException.class, () -> collect(stub.generate(request.build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith(field), e.getStatus().getDescription());
  }

  @ParameterizedTest
  @CsvSource({"request_id, ..", "request_id, ../../etc/passwd", "request_id, a/b", "prompt, long"})
  void unsafeRequestIdsAndOverLongPromptsAreRefusedAtAdmission(String field, String value)
      throws Exception {
    var stub = start(WorkerOptions.defaults().withMaxPromptChars(1000));
    GenerateRequest.Builder request = request("a red circle", 1);
    if (field.equals("request_id")) {
      request.setRequestId(value);
    } else {
      request.setPrompt("x".repeat(100_000));
    }
    StatusRuntimeException e =
        assertThrows(StatusRuntimeException.class, () -> collect(stub.generate(request.build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith(field), e.getStatus().getDescription());
    assertEquals(0, server.metrics().requests("ok"), "refused before any generation ran");
  }

  @Test
  void anExportedPackageServesRequestedSizesAndAspectRatios() throws Exception {
    var stub = start(WorkerOptions.defaults(), "fixture-sdxl");
    GenerateRequest base =
        GenerateRequest.newBuilder()
            .setModel("fixture-sdxl")
            .setPrompt("a lighthouse at dusk")
            .setSteps(2)
            .setSeed(4)
            .setSampler(Sampler.SAMPLER_EULER_ANCESTRAL)
            .setGuidanceRescale(0.5f)
            .setClipSkip(1)
            .build();
    var sized = last(collect(stub.generate(base.toBuilder().setWidth(96).setHeight(64).build())));
    assertEquals(96, sized.getResult().getMedia(0).getWidth());
    assertEquals(64, sized.getResult().getMedia(0).getHeight());
    var bucket = last(collect(stub.generate(base.toBuilder().setAspectRatio("2:1").build())));
    assertEquals(128, bucket.getResult().getMedia(0).getWidth());
    assertEquals(64, bucket.getResult().getMedia(0).getHeight());
    var summary =
        stub.getModel(GetModelRequest.newBuilder().setName("fixture-sdxl").build()).getSummary();
    assertEquals(32, summary.getSizeConstraint().getMultipleOf());
    assertEquals(5, summary.getSizeConstraint().getBucketsCount());
    record Bad(String field, GenerateRequest request) {}
    for (Bad bad :
        List.of(
            new Bad("width", base.toBuilder().setWidth(100).setHeight(64).build()),
            new Bad("aspect_ratio", base.toBuilder().setAspectRatio("wide").build()),
            new Bad(
                "aspect_ratio",
                base.toBuilder().setAspectRatio("2:1").setWidth(64).setHeight(64).build()),
            new Bad("guidance_rescale", base.toBuilder().setGuidanceRescale(2f).build()),
            new Bad("clip_skip", base.toBuilder().setClipSkip(7).build()),
            new Bad("sampler", base.toBuilder().setSampler(Sampler.SAMPLER_AR).build()))) {
      StatusRuntimeException e =
          assertThrows(StatusRuntimeException.class, () -> collect(stub.generate(bad.request())));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
      assertTrue(
          e.getStatus().getDescription().startsWith(bad.field()), e.getStatus().getDescription());
    }
  }

  @Test
  void longPromptsAreTruncatedAsDiffusersDoesAndCounted() throws Exception {
    var stub = start(WorkerOptions.defaults());
    // 43 words and the two special tokens against tiny-ldm's 16 positions: 29 are dropped.
    GenerateRequest request =
        GenerateRequest.newBuilder()
            .setModel("tiny-ldm")
            .setPrompt("a red circle" + " circle".repeat(40))
            .setSteps(2)
            .setSeed(5)
            .build();
    List<GenerateEvent> events = collect(stub.generate(request));
    GenerateEvent result = events.get(events.size() - 1);
    assertEquals(29, result.getResult().getStats().getTruncatedTokens());
    GenerateEvent shortOne =
        last(collect(stub.generate(request.toBuilder().setPrompt("a red circle").build())));
    assertEquals(0, shortOne.getResult().getStats().getTruncatedTokens());
  }

  private static GenerateEvent last(List<GenerateEvent> events) {
    return events.get(events.size() - 1);
  }

  @Test
  void batchedOutputsAreIdenticalToUnbatchedOnes() throws Exception {
    var stub = start(WorkerOptions.defaults().withBatching(4, 60_000, 16));
    String[] prompts = {
      "a red circle on a blue background", "a green square on a white background",
      "a yellow triangle on a black background", "a purple circle on a orange background"
    };
    var async = GenerationServiceGrpc.newStub(channel);
    List<CompletableFuture<List<GenerateEvent>>> batched = new ArrayList<>();
    for (int i = 0; i < prompts.length; i++) {
      batched.add(call(async, request(prompts[i], 100 + i).build()));
    }
    List<byte[]> together = new ArrayList<>();
    for (CompletableFuture<List<GenerateEvent>> f : batched) {
      List<GenerateEvent> events = f.get(120, TimeUnit.SECONDS);
      assertEquals(4, events.get(events.size() - 1).getResult().getStats().getBatchSize());
      together.add(png(events));
    }
    server.close();
    channel.shutdownNow();
    server = null;
    var single = start(WorkerOptions.defaults().withBatching(1, 0, 16));
    for (int i = 0; i < prompts.length; i++) {
      List<GenerateEvent> events = collect(single.generate(request(prompts[i], 100 + i).build()));
      assertEquals(1, events.get(events.size() - 1).getResult().getStats().getBatchSize());
      int[] a = pixels(together.get(i));
      int[] b = pixels(png(events));
      int max = 0;
      int differing = 0;
      for (int k = 0; k < a.length; k++) {
        int d = Math.abs(a[k] - b[k]);
        max = Math.max(max, d);
        differing += d > 0 ? 1 : 0;
      }
      // Batched GEMMs round differently from batch-1 ones (libtorch picks kernels by shape), so a
      // pixel may move by one level; anything more would mean the batch changed the generation.
      String detail = "item " + i + ": max " + max + " levels on " + differing + " of " + a.length;
      assertTrue(max <= 1, detail);
      assertTrue(differing <= a.length / 200, detail);
    }
  }

  private static int[] pixels(byte[] png) throws java.io.IOException {
    BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
    int[] out = new int[image.getWidth() * image.getHeight() * 3];
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        int p = image.getRGB(x, y);
        int i = (y * image.getWidth() + x) * 3;
        out[i] = (p >> 16) & 0xFF;
        out[i + 1] = (p >> 8) & 0xFF;
        out[i + 2] = p & 0xFF;
      }
    }
    return out;
  }

  private static CompletableFuture<List<GenerateEvent>> call(
      GenerationServiceGrpc.GenerationServiceStub stub, GenerateRequest request) {
    return call(stub, request, e -> false, new CountDownLatch(1));
  }

  /** An asynchronous Generate call that counts {@code latch} down at the first event matching. */
  private static CompletableFuture<List<GenerateEvent>> call(
      GenerationServiceGrpc.GenerationServiceStub stub,
      GenerateRequest request,
      java.util.function.Predicate<GenerateEvent> signal,
      CountDownLatch latch) {
    CompletableFuture<List<GenerateEvent>> done = new CompletableFuture<>();
    List<GenerateEvent> events = new ArrayList<>();
    stub.generate(
        request,
        new io.grpc.stub.StreamObserver<>() {
          @Override
          public void onNext(GenerateEvent value) {
            events.add(value);
            if (signal.test(value)) {
              latch.countDown();
            }
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.complete(events);
          }
        });
    return done;
  }

  @Test
  void aBatchCallRunsItsRequestsAsOneForwardAndFailsABadOneAlone() throws Exception {
    // four valid requests wait out the window for partners, then run as one forward
    var stub = start(WorkerOptions.defaults().withBatching(8, 300, 16));
    GenerateBatchRequest.Builder batch = GenerateBatchRequest.newBuilder();
    for (int i = 0; i < 3; i++) {
      batch.addRequests(request("a red circle on a blue background", i).setRequestId("b-" + i));
    }
    batch.addRequests(request("a green square", 9).setRequestId("b-bad").setModel("no-such"));
    batch.addRequests(request("a blue square", 8).setRequestId("b-1x").setSteps(-1));
    batch.addRequests(request("a red circle on a blue background", 3).setRequestId("b-3"));
    List<GenerateEvent> events =
        collect(stub.withDeadlineAfter(60, TimeUnit.SECONDS).generateBatch(batch.build()));
    Map<String, List<GenerateEvent>> byId = new java.util.TreeMap<>();
    events.forEach(e -> byId.computeIfAbsent(e.getRequestId(), k -> new ArrayList<>()).add(e));
    assertEquals(Set.of("b-0", "b-1", "b-2", "b-3", "b-bad", "b-1x"), byId.keySet());
    for (String id : List.of("b-0", "b-1", "b-2", "b-3")) {
      List<GenerateEvent> mine = byId.get(id);
      assertTrue(mine.get(0).hasQueued(), id + " starts with Queued: " + mine.get(0));
      GenerateEvent result = mine.get(mine.size() - 1);
      assertTrue(result.hasResult(), id + " ends with its result");
      assertEquals(4, result.getResult().getStats().getBatchSize(), id + " shared one forward");
      assertNotNull(ImageIO.read(new java.io.ByteArrayInputStream(png(mine))));
    }
    GenerateEvent bad = byId.get("b-bad").get(0);
    assertEquals(1, byId.get("b-bad").size());
    assertEquals(Status.Code.INVALID_ARGUMENT.value(), bad.getFailure().getCode());
    assertTrue(bad.getFailure().getMessage().startsWith("model: unknown model 'no-such'"));
    GenerateEvent steps = byId.get("b-1x").get(0);
    assertEquals(Status.Code.INVALID_ARGUMENT.value(), steps.getFailure().getCode());
    assertTrue(
        steps.getFailure().getMessage().startsWith("steps:"), steps.getFailure().getMessage());
    // the same seeds give the same images as single Generate calls
    byte[] alone =
        png(collect(stub.generate(request("a red circle on a blue background", 1).build())));
    assertArrayEquals(alone, png(byId.get("b-1")));
    assertEquals(2, server.metrics().requests("invalid_argument"));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "0|requests: must hold at least one request",
        "-1|requests[1].request_id: must be set (events of a batch are told apart by it)",
        "-2|requests[1].request_id: 'same' appears twice in the batch",
        "17|requests: 17 requests exceed this worker's queue limit of 16; split the batch"
      })
  void aMalformedBatchIsRefusedAsAWholeNamingTheField(int shape, String message) throws Exception {
    var stub = start(WorkerOptions.defaults().withBatching(8, 20, 16));
    GenerateBatchRequest.Builder batch = GenerateBatchRequest.newBuilder();
    if (shape > 0) {
      for (int i = 0; i < shape; i++) {
        batch.addRequests(request("a red circle", i).setRequestId("r-" + i));
      }
    } else if (shape == -1) {
      batch.addRequests(request("a red circle", 1).setRequestId("r-1"));
      batch.addRequests(request("a red circle", 2));
    } else if (shape == -2) {
      batch.addRequests(request("a red circle", 1).setRequestId("same"));
      batch.addRequests(request("a red circle", 2).setRequestId("same"));
    }
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class, () -> collect(stub.generateBatch(batch.build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertEquals(message, e.getStatus().getDescription());
  }

  @Test
  void aBatchTheQueueCannotHoldFailsEachRequestWithResourceExhausted() throws Exception {
    // one compute thread busy with a long request, a queue of 4 holding 2 more
    var stub = start(WorkerOptions.defaults().withBatching(1, 0, 4));
    var async = GenerationServiceGrpc.newStub(channel);
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch queued = new CountDownLatch(2);
    List<CompletableFuture<List<GenerateEvent>>> blockers = new ArrayList<>();
    blockers.add(
        call(
            async,
            request("a red circle", 1).setSteps(300).build(),
            e -> e.hasProgress(),
            running));
    assertTrue(running.await(60, TimeUnit.SECONDS));
    for (int seed = 2; seed <= 3; seed++) {
      blockers.add(call(async, request("a red circle", seed).build(), e -> e.hasQueued(), queued));
    }
    assertTrue(queued.await(60, TimeUnit.SECONDS));
    GenerateBatchRequest.Builder batch = GenerateBatchRequest.newBuilder();
    for (int i = 0; i < 3; i++) {
      batch.addRequests(request("a blue square", i).setRequestId("q-" + i));
    }
    List<GenerateEvent> events = collect(stub.generateBatch(batch.build()));
    assertEquals(3, events.size(), events.toString());
    for (GenerateEvent event : events) {
      assertEquals(Status.Code.RESOURCE_EXHAUSTED.value(), event.getFailure().getCode());
    }
    for (var blocker : blockers) {
      assertNotNull(png(blocker.get(120, TimeUnit.SECONDS)));
    }
  }

  @Test
  void aCancelledCallStopsBetweenStepsAndFreesTheWorker() throws Exception {
    start(WorkerOptions.defaults().withBatching(1, 0, 4));
    CountDownLatch firstProgress = new CountDownLatch(1);
    CompletableFuture<Status> ended = new CompletableFuture<>();
    GenerationServiceGrpc.newStub(channel)
        .generate(
            request("a red circle on a blue background", 1).setSteps(900).build(),
            new ClientResponseObserver<GenerateRequest, GenerateEvent>() {
              private ClientCallStreamObserver<GenerateRequest> call;

              @Override
              public void beforeStart(ClientCallStreamObserver<GenerateRequest> requestStream) {
                call = requestStream;
              }

              @Override
              public void onNext(GenerateEvent value) {
                if (value.hasProgress()) {
                  firstProgress.countDown();
                  call.cancel("client gave up", null);
                }
              }

              @Override
              public void onError(Throwable t) {
                ended.complete(Status.fromThrowable(t));
              }

              @Override
              public void onCompleted() {
                ended.complete(Status.OK);
              }
            });
    assertTrue(firstProgress.await(60, TimeUnit.SECONDS));
    assertEquals(Status.Code.CANCELLED, ended.get(60, TimeUnit.SECONDS).getCode());
    // The worker is free: a new request is served (it would wait behind 1000 steps otherwise).
    var stub =
        GenerationServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    List<GenerateEvent> events =
        collect(stub.generate(request("a green square on a red background", 2).build()));
    assertNotNull(png(events));
    assertTrue(server.awaitIdle(60_000), "the worker is idle again");
    assertEquals(0, server.inFlight());
    assertTrue(server.metrics().requests("cancelled") >= 1);
  }

  @Test
  void sixtyFourConcurrentRequestsAgainstAQueueOfSixteenSucceedOrAreRefused() throws Exception {
    start(WorkerOptions.defaults().withBatching(8, 20, 16));
    int baselineThreads = Thread.activeCount();
    var async = GenerationServiceGrpc.newStub(channel);
    List<CompletableFuture<List<GenerateEvent>>> calls = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      calls.add(
          call(async, request("a blue square on a yellow background", i).setSteps(2).build()));
    }
    int ok = 0;
    int refused = 0;
    for (CompletableFuture<List<GenerateEvent>> f : calls) {
      try {
        List<GenerateEvent> events = f.get(120, TimeUnit.SECONDS);
        assertNotNull(png(events));
        ok++;
      } catch (java.util.concurrent.ExecutionException e) {
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, Status.fromThrowable(e.getCause()).getCode());
        refused++;
      }
    }
    assertEquals(64, ok + refused);
    assertTrue(ok >= 16, "at least a queue's worth succeeds: " + ok);
    assertTrue(refused > 0, "some are refused");
    assertTrue(server.awaitIdle(60_000), "the worker is idle again");
    assertEquals(0, server.inFlight());
    assertEquals(refused, server.metrics().requests("resource_exhausted"));
    // Threads are bounded by the server's executor, not proportional to the 64 calls.
    assertTrue(
        Thread.activeCount() <= baselineThreads + WorkerServer.CALL_THREADS + 4,
        "threads stay bounded: " + Thread.activeCount() + " vs baseline " + baselineThreads);
  }

  @Test
  void healthIsNotServingBeforeStartAndAfterDrain() throws Exception {
    start(WorkerOptions.defaults());
    server.drain(5);
    var health = HealthGrpc.newBlockingStub(channel);
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                health.check(
                    HealthCheckRequest.newBuilder().setService(WorkerServer.SERVICE).build()));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    server = null;
  }

  @Test
  void prometheusEndpointReportsRequestsBatchesAndModels() throws Exception {
    var stub = start(WorkerOptions.defaults());
    collect(stub.generate(request("a red circle on a blue background", 5).build()));
    assertTrue(server.awaitIdle(60_000));
    com.sun.net.httpserver.HttpServer http = server.metrics().serve("127.0.0.1", 0);
    try {
      var response =
          java.net.http.HttpClient.newHttpClient()
              .send(
                  java.net.http.HttpRequest.newBuilder(
                          java.net.URI.create(
                              "http://127.0.0.1:" + http.getAddress().getPort() + "/metrics"))
                      .build(),
                  java.net.http.HttpResponse.BodyHandlers.ofString());
      assertEquals(200, response.statusCode());
      String body = response.body();
      assertTrue(body.contains("genloom_requests_total{status=\"ok\"} 1"), body);
      assertTrue(body.contains("genloom_batch_size_count 1"), body);
      assertTrue(body.contains("genloom_models_loaded 1"), body);
      assertTrue(body.contains("genloom_queue_seconds_bucket{le=\"+Inf\"} 1"), body);
    } finally {
      http.stop(0);
    }
  }
}
