package dev.genloom.workers;

import com.google.protobuf.ByteString;
import dev.genloom.generators.GeneratedMedia;
import dev.genloom.generators.GenerationCancelledException;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.MediaFiles;
import dev.genloom.generators.RgbImage;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.GenerationStats;
import dev.genloom.proto.v1.GetModelRequest;
import dev.genloom.proto.v1.GetModelResponse;
import dev.genloom.proto.v1.ListModelsRequest;
import dev.genloom.proto.v1.ListModelsResponse;
import dev.genloom.proto.v1.Media;
import dev.genloom.proto.v1.OutputOptions;
import dev.genloom.proto.v1.Progress;
import dev.genloom.proto.v1.Queued;
import dev.genloom.proto.v1.Result;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code genloom.v1.GenerationService} over loaded generators, with dynamic batching. */
final class GenerationService extends GenerationServiceGrpc.GenerationServiceImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(GenerationService.class);

  private final ModelCatalog catalog;
  private final WorkerOptions options;
  private final WorkerMetrics metrics;
  private final RequestMapper mapper;
  private volatile Map<String, Generator> generators;
  private volatile BatchingScheduler scheduler;

  GenerationService(ModelCatalog catalog, WorkerOptions options, WorkerMetrics metrics) {
    this.catalog = catalog;
    this.options = options;
    this.metrics = metrics;
    SecureRandom random = new SecureRandom();
    this.mapper =
        new RequestMapper(
            new AllowedRoots(options.inputRoots()),
            options.maxReferenceBytes(),
            options.maxPromptChars(),
            () -> random.nextLong() & Long.MAX_VALUE);
  }

  private volatile boolean draining;

  /**
   * From now on Generate answers UNAVAILABLE (calls already admitted run to the end). Set before
   * health leaves SERVING, so no call can slip in between the health change and the listener
   * closing.
   */
  void drain() {
    draining = true;
  }

  /** Called once the generators are loaded; until then Generate answers UNAVAILABLE. */
  void ready(Map<String, Generator> loaded, BatchingScheduler batching) {
    this.scheduler = batching;
    this.generators = Map.copyOf(loaded);
  }

  @Override
  public void listModels(
      ListModelsRequest request, StreamObserver<ListModelsResponse> responseObserver) {
    responseObserver.onNext(catalog.list());
    responseObserver.onCompleted();
  }

  @Override
  public void getModel(GetModelRequest request, StreamObserver<GetModelResponse> responseObserver) {
    if (request.getName().isEmpty()) {
      responseObserver.onError(
          Status.INVALID_ARGUMENT.withDescription("name: must name a model").asRuntimeException());
      return;
    }
    catalog
        .get(request.getName())
        .ifPresentOrElse(
            response -> {
              responseObserver.onNext(response);
              responseObserver.onCompleted();
            },
            () ->
                responseObserver.onError(
                    Status.NOT_FOUND
                        .withDescription("name: no model '" + request.getName() + "' is loaded")
                        .asRuntimeException()));
  }

  @Override
  public void generate(GenerateRequest request, StreamObserver<GenerateEvent> responseObserver) {
    ServerCallStreamObserver<GenerateEvent> call =
        (ServerCallStreamObserver<GenerateEvent>) responseObserver;
    String requestId =
        request.getRequestId().isEmpty() ? UUID.randomUUID().toString() : request.getRequestId();
    try {
      RequestMapper.checkRequestId(request.getRequestId());
    } catch (IllegalArgumentException e) {
      reject(
          call,
          safeName(requestId),
          Status.INVALID_ARGUMENT.withDescription(e.getMessage()),
          "invalid_argument");
      return;
    }
    if (draining) {
      reject(
          call,
          requestId,
          Status.UNAVAILABLE.withDescription("worker is draining; retry on another worker"),
          "unavailable");
      return;
    }
    Map<String, Generator> loaded = generators;
    BatchingScheduler batching = scheduler;
    if (loaded == null || batching == null) {
      reject(
          call,
          requestId,
          Status.UNAVAILABLE.withDescription("models are still loading; retry shortly"),
          "unavailable");
      return;
    }
    Generator generator = loaded.get(request.getModel());
    if (generator == null) {
      reject(
          call,
          requestId,
          Status.INVALID_ARGUMENT.withDescription(
              "model: unknown model '"
                  + request.getModel()
                  + "' (loaded: "
                  + String.join(", ", loaded.keySet())
                  + ")"),
          "invalid_argument");
      return;
    }
    GenerationSpec spec;
    Path outputDir;
    try {
      spec = mapper.map(request, generator);
      outputDir = outputDirectory(request.getOutput());
    } catch (IllegalArgumentException e) {
      reject(
          call,
          requestId,
          Status.INVALID_ARGUMENT.withDescription(e.getMessage()),
          "invalid_argument");
      return;
    }
    CallState state = new CallState(call, requestId, request, spec, outputDir);
    BatchingScheduler.Job job =
        new BatchingScheduler.Job(generator, spec, state, System.nanoTime());
    call.setOnCancelHandler(
        () -> {
          state.cancelled = true;
          batching.cancel(job);
        });
    synchronized (state) {
      int position = batching.submit(job);
      if (position < 0) {
        reject(
            call,
            requestId,
            Status.RESOURCE_EXHAUSTED.withDescription(
                "queue is full (" + options.maxQueue() + " requests waiting); retry with backoff"),
            "resource_exhausted");
        state.finished = true;
        return;
      }
      LOG.info(
          "request_id={} model={} queued position={}", requestId, request.getModel(), position);
      call.onNext(event(requestId).setQueued(Queued.newBuilder().setPosition(position)).build());
    }
  }

  private void reject(
      ServerCallStreamObserver<GenerateEvent> call, String requestId, Status status, String label) {
    metrics.request(label);
    LOG.info(
        "request_id={} rejected status={} reason={}",
        requestId,
        status.getCode(),
        status.getDescription());
    call.onError(status.asRuntimeException());
  }

  private Path outputDirectory(OutputOptions output) {
    if (output.getDelivery() != OutputOptions.Delivery.DELIVERY_URI) {
      return null;
    }
    Path root =
        options
            .outputRoot()
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "output.delivery: this worker has no output root; use inline delivery"));
    return AllowedRoots.outputPath(
        root.toAbsolutePath().normalize(), output.getPathPrefix(), "output.path_prefix");
  }

  private static GenerateEvent.Builder event(String requestId) {
    return GenerateEvent.newBuilder().setRequestId(requestId);
  }

  /** One call's state, shared by the gRPC thread and the compute thread (guarded by this). */
  private final class CallState implements BatchingScheduler.Listener {
    final ServerCallStreamObserver<GenerateEvent> call;
    final String requestId;
    final GenerateRequest request;
    final GenerationSpec spec;
    final Path outputDir;
    final Context context = Context.current();
    volatile boolean cancelled;
    boolean finished;

    CallState(
        ServerCallStreamObserver<GenerateEvent> call,
        String requestId,
        GenerateRequest request,
        GenerationSpec spec,
        Path outputDir) {
      this.call = call;
      this.requestId = requestId;
      this.request = request;
      this.spec = spec;
      this.outputDir = outputDir;
    }

    @Override
    public boolean cancelled() {
      return cancelled || context.isCancelled();
    }

    @Override
    public synchronized void progress(int step, int total, Supplier<RgbImage> preview) {
      if (finished || cancelled()) {
        return;
      }
      Progress.Builder progress = Progress.newBuilder().setStep(step).setTotalSteps(total);
      int every = request.getOutput().getPreviewEvery();
      if (every > 0 && step % every == 0) {
        RgbImage image = preview.get();
        if (image != null) {
          progress.setPreviewPng(ByteString.copyFrom(image.toPng()));
        }
      }
      call.onNext(event(requestId).setProgress(progress).build());
    }

    @Override
    public synchronized void done(GeneratedMedia media, long queueNanos, long computeNanos) {
      if (finished) {
        return;
      }
      finished = true;
      metrics.queued(queueNanos);
      metrics.blocks(media.blockEvaluations(), media.blockSkips());
      if (cancelled()) {
        metrics.request("cancelled");
        return;
      }
      try {
        GenerationStats stats =
            GenerationStats.newBuilder()
                .setWallMs((queueNanos + computeNanos) / 1_000_000)
                .setQueueMs(queueNanos / 1_000_000)
                .setComputeMs(computeNanos / 1_000_000)
                .setBlockEvals(media.blockEvaluations())
                .setBlockSkips(media.blockSkips())
                .setBatchSize(media.batchSize())
                .setTruncatedTokens(media.truncatedTokens())
                .setSeed(spec.seed())
                .setWorker(options.workerName())
                .build();
        sendResult(media, stats);
        call.onCompleted();
        metrics.request("ok");
        LOG.info(
            "request_id={} ok batch={} queue_ms={} compute_ms={} block_evals={} block_skips={}",
            requestId,
            media.batchSize(),
            stats.getQueueMs(),
            stats.getComputeMs(),
            stats.getBlockEvals(),
            stats.getBlockSkips());
      } catch (IOException | RuntimeException e) {
        LOG.error("request_id={} failed while sending the result", requestId, e);
        metrics.request("internal");
        call.onError(
            Status.INTERNAL
                .withDescription("could not deliver the result (request " + requestId + ")")
                .asRuntimeException());
      }
    }

    private void sendResult(GeneratedMedia media, GenerationStats stats) throws IOException {
      byte[] bytes;
      String mime;
      String extension;
      if (media.isVideo()) {
        bytes = MediaFiles.mp4Bytes(media.frames(), media.fps());
        mime = "video/mp4";
        extension = ".mp4";
      } else {
        bytes = media.frames().get(0).toPng();
        mime = "image/png";
        extension = ".png";
      }
      RgbImage first = media.frames().get(0);
      Media.Builder header =
          Media.newBuilder()
              .setMimeType(mime)
              .setWidth(first.width())
              .setHeight(first.height())
              .setNumFrames(media.frames().size())
              .setFps(media.fps());
      if (outputDir != null) {
        Files.createDirectories(outputDir);
        Path file =
            AllowedRoots.outputPath(outputDir, safeName(requestId) + extension, "request_id");
        Path temp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(temp, bytes);
        Files.move(
            temp,
            file,
            java.nio.file.StandardCopyOption.REPLACE_EXISTING,
            java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        call.onNext(
            event(requestId)
                .setResult(
                    Result.newBuilder()
                        .addMedia(header.setUri(file.toUri().toString()))
                        .setStats(stats)
                        .setChunkCount(1))
                .build());
        return;
      }
      int chunk = options.chunkBytes();
      int count = Math.max(1, (bytes.length + chunk - 1) / chunk);
      for (int i = 0; i < count; i++) {
        int from = i * chunk;
        int to = Math.min(bytes.length, from + chunk);
        Result.Builder result =
            Result.newBuilder()
                .addMedia(header.clone().setData(ByteString.copyFrom(bytes, from, to - from)))
                .setChunkIndex(i)
                .setChunkCount(count);
        if (i == count - 1) {
          result.setStats(stats);
        }
        call.onNext(event(requestId).setResult(result).build());
      }
    }

    @Override
    public synchronized void failed(RuntimeException error) {
      if (finished) {
        return;
      }
      finished = true;
      if (error instanceof GenerationCancelledException || cancelled()) {
        metrics.request("cancelled");
        LOG.info("request_id={} cancelled", requestId);
        if (!call.isCancelled()) {
          call.onError(
              Status.CANCELLED.withDescription("generation cancelled").asRuntimeException());
        }
        return;
      }
      if (error instanceof IllegalArgumentException) {
        metrics.request("invalid_argument");
        call.onError(
            Status.INVALID_ARGUMENT.withDescription(error.getMessage()).asRuntimeException());
        return;
      }
      LOG.error("request_id={} generation failed", requestId, error);
      metrics.request("internal");
      call.onError(
          Status.INTERNAL
              .withDescription("generation failed (request " + requestId + "); see the worker log")
              .asRuntimeException());
    }
  }

  private static String safeName(String requestId) {
    return requestId.replaceAll("[^A-Za-z0-9._-]", "_");
  }
}
