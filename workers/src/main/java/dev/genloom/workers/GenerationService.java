package dev.genloom.workers;

import com.google.protobuf.ByteString;
import dev.genloom.generators.CachePolicies;
import dev.genloom.generators.GeneratedMedia;
import dev.genloom.generators.GenerationCancelledException;
import dev.genloom.generators.GenerationSpec;
import dev.genloom.generators.Generator;
import dev.genloom.generators.MediaFiles;
import dev.genloom.generators.RgbImage;
import dev.genloom.proto.MediaKind;
import dev.genloom.proto.v1.Failure;
import dev.genloom.proto.v1.GenerateBatchRequest;
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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
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
    Sink sink = new CallSink(call);
    try {
      RequestMapper.checkRequestId(request.getRequestId());
    } catch (IllegalArgumentException e) {
      reject(
          sink,
          safeName(requestId),
          Status.INVALID_ARGUMENT.withDescription(e.getMessage()),
          "invalid_argument");
      return;
    }
    BatchingScheduler batching = scheduler;
    CallState state;
    try {
      state = admit(request, requestId, sink);
    } catch (Rejection r) {
      reject(sink, requestId, r.status, r.label);
      return;
    }
    call.setOnCancelHandler(
        () -> {
          state.cancelled = true;
          batching.cancel(state.job);
        });
    synchronized (state) {
      int position = batching.submit(state.job);
      if (position < 0) {
        state.finished = true;
        reject(sink, requestId, queueFull(), "resource_exhausted");
        return;
      }
      queued(state, position);
    }
  }

  @Override
  public void generateBatch(
      GenerateBatchRequest batch, StreamObserver<GenerateEvent> responseObserver) {
    ServerCallStreamObserver<GenerateEvent> call =
        (ServerCallStreamObserver<GenerateEvent>) responseObserver;
    Status refused = checkBatch(batch);
    if (refused != null) {
      metrics.request(
          refused.getCode() == Status.Code.INVALID_ARGUMENT ? "invalid_argument" : "unavailable");
      LOG.info(
          "batch of {} rejected status={} reason={}",
          batch.getRequestsCount(),
          refused.getCode(),
          refused.getDescription());
      call.onError(refused.asRuntimeException());
      return;
    }
    BatchCall shared = new BatchCall(call, batch.getRequestsCount());
    BatchingScheduler batching = scheduler;
    List<CallState> admitted = new ArrayList<>();
    // Under the shared lock until every Queued event is out, so each request's Queued comes first
    // (compute threads send through the same lock). No request's own lock is taken here: a compute
    // thread holds one while it waits for the shared lock.
    synchronized (shared) {
      for (GenerateRequest request : batch.getRequestsList()) {
        Sink sink = shared.sink(request.getRequestId());
        try {
          admitted.add(admit(request, request.getRequestId(), sink));
        } catch (Rejection r) {
          reject(sink, request.getRequestId(), r.status, r.label);
        }
      }
      List<CallState> states = List.copyOf(admitted);
      call.setOnCancelHandler(
          () -> {
            for (CallState state : states) {
              state.cancelled = true;
              batching.cancel(state.job);
            }
          });
      int[] positions = batching.submitAll(states.stream().map(state -> state.job).toList());
      for (int i = 0; i < states.size(); i++) {
        CallState state = states.get(i);
        if (positions == null) {
          // never queued, so no compute thread knows it
          state.finished = true;
          reject(state.sink, state.requestId, queueFull(), "resource_exhausted");
        } else {
          queued(state, positions[i]);
        }
      }
    }
  }

  /** A call-level refusal of a GenerateBatch call, or null when its requests may be admitted. */
  private Status checkBatch(GenerateBatchRequest batch) {
    int n = batch.getRequestsCount();
    if (n == 0) {
      return Status.INVALID_ARGUMENT.withDescription("requests: must hold at least one request");
    }
    if (n > options.maxQueue()) {
      return Status.INVALID_ARGUMENT.withDescription(
          "requests: "
              + n
              + " requests exceed this worker's queue limit of "
              + options.maxQueue()
              + "; split the batch");
    }
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < n; i++) {
      String id = batch.getRequests(i).getRequestId();
      String field = "requests[" + i + "].request_id";
      if (id.isEmpty()) {
        return Status.INVALID_ARGUMENT.withDescription(
            field + ": must be set (events of a batch are told apart by it)");
      }
      try {
        RequestMapper.checkRequestId(id);
      } catch (IllegalArgumentException e) {
        return Status.INVALID_ARGUMENT.withDescription(field + ": " + e.getMessage());
      }
      if (!ids.add(id)) {
        return Status.INVALID_ARGUMENT.withDescription(
            field + ": '" + id + "' appears twice in the batch");
      }
    }
    if (draining) {
      return Status.UNAVAILABLE.withDescription("worker is draining; retry on another worker");
    }
    if (generators == null || scheduler == null) {
      return Status.UNAVAILABLE.withDescription("models are still loading; retry shortly");
    }
    return null;
  }

  /** Why a request is not admitted: its status and the metrics label. */
  private static final class Rejection extends Exception {
    private static final long serialVersionUID = 1L;
    final transient Status status;
    final String label;

    Rejection(Status status, String label) {
      super(status.getDescription(), null, false, false);
      this.status = status;
      this.label = label;
    }
  }

  /** Checks one request and builds its job; the caller submits it. */
  private CallState admit(GenerateRequest request, String requestId, Sink sink) throws Rejection {
    if (draining) {
      throw new Rejection(
          Status.UNAVAILABLE.withDescription("worker is draining; retry on another worker"),
          "unavailable");
    }
    Map<String, Generator> loaded = generators;
    if (loaded == null || scheduler == null) {
      throw new Rejection(
          Status.UNAVAILABLE.withDescription("models are still loading; retry shortly"),
          "unavailable");
    }
    Generator generator = loaded.get(request.getModel());
    if (generator == null) {
      throw new Rejection(
          Status.INVALID_ARGUMENT.withDescription(
              "model: unknown model '"
                  + request.getModel()
                  + "' (loaded: "
                  + String.join(", ", loaded.keySet())
                  + ")"),
          "invalid_argument");
    }
    try {
      GenerationSpec spec = mapper.map(request, generator);
      Path outputDir = outputDirectory(request.getOutput());
      return new CallState(sink, requestId, request, spec, outputDir, generator);
    } catch (IllegalArgumentException e) {
      throw new Rejection(
          Status.INVALID_ARGUMENT.withDescription(e.getMessage()), "invalid_argument");
    }
  }

  private Status queueFull() {
    return Status.RESOURCE_EXHAUSTED.withDescription(
        "queue is full (" + options.maxQueue() + " requests waiting); retry with backoff");
  }

  /** Sends the Queued event of an admitted request, before any other event of it. */
  private void queued(CallState state, int position) {
    LOG.info(
        "request_id={} model={} queued position={}",
        state.requestId,
        state.request.getModel(),
        position);
    state.sink.send(
        event(state.requestId).setQueued(Queued.newBuilder().setPosition(position)).build());
  }

  private void reject(Sink sink, String requestId, Status status, String label) {
    metrics.request(label);
    LOG.info(
        "request_id={} rejected status={} reason={}",
        requestId,
        status.getCode(),
        status.getDescription());
    sink.fail(requestId, status);
  }

  /** Where one request's events go: its own Generate call, or its share of a GenerateBatch call. */
  private interface Sink {
    void send(GenerateEvent event);

    /** The request's last event was sent. */
    void complete();

    /** Ends the request with {@code status}. */
    void fail(String requestId, Status status);

    boolean cancelled();
  }

  /** A Generate call: the request's end is the call's end. */
  private static final class CallSink implements Sink {
    private final ServerCallStreamObserver<GenerateEvent> call;

    CallSink(ServerCallStreamObserver<GenerateEvent> call) {
      this.call = call;
    }

    @Override
    public void send(GenerateEvent event) {
      call.onNext(event);
    }

    @Override
    public void complete() {
      call.onCompleted();
    }

    @Override
    public void fail(String requestId, Status status) {
      if (!call.isCancelled()) {
        call.onError(status.asRuntimeException());
      }
    }

    @Override
    public boolean cancelled() {
      return call.isCancelled();
    }
  }

  /**
   * A GenerateBatch call shared by its requests: events of all of them go out under this object's
   * lock, a failed request sends a Failure event, and the call ends when every request has ended.
   */
  private static final class BatchCall {
    private final ServerCallStreamObserver<GenerateEvent> call;
    private int open;

    BatchCall(ServerCallStreamObserver<GenerateEvent> call, int requests) {
      this.call = call;
      this.open = requests;
    }

    Sink sink(String requestId) {
      return new Sink() {
        @Override
        public void send(GenerateEvent event) {
          synchronized (BatchCall.this) {
            if (!call.isCancelled()) {
              call.onNext(event);
            }
          }
        }

        @Override
        public void complete() {
          ended();
        }

        @Override
        public void fail(String id, Status status) {
          synchronized (BatchCall.this) {
            if (!call.isCancelled()) {
              call.onNext(
                  event(id)
                      .setFailure(
                          Failure.newBuilder()
                              .setCode(status.getCode().value())
                              .setMessage(Objects.toString(status.getDescription(), "")))
                      .build());
            }
          }
          ended();
        }

        @Override
        public boolean cancelled() {
          return call.isCancelled();
        }
      };
    }

    private synchronized void ended() {
      open--;
      if (open == 0 && !call.isCancelled()) {
        call.onCompleted();
      }
    }
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

  /** One request's state, shared by the gRPC thread and the compute thread (guarded by this). */
  private final class CallState implements BatchingScheduler.Listener {
    final Sink sink;
    final String requestId;
    final GenerateRequest request;
    final GenerationSpec spec;
    final Path outputDir;
    final BatchingScheduler.Job job;
    final Context context = Context.current();
    volatile boolean cancelled;
    boolean finished;

    CallState(
        Sink sink,
        String requestId,
        GenerateRequest request,
        GenerationSpec spec,
        Path outputDir,
        Generator generator) {
      this.sink = sink;
      this.requestId = requestId;
      this.request = request;
      this.spec = spec;
      this.outputDir = outputDir;
      this.job = new BatchingScheduler.Job(generator, spec, this, System.nanoTime());
    }

    /** The cache policy that ran, with a calibrated schedule's figures. */
    private void cache(GenerationStats.Builder stats) {
      CachePolicies.Choice choice = job.generator().cacheChoice(spec);
      stats.setCachePolicy(choice.description()).addAllCacheFigures(choice.figures());
    }

    @Override
    public boolean cancelled() {
      return cancelled || sink.cancelled() || context.isCancelled();
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
      sink.send(event(requestId).setProgress(progress).build());
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
        GenerationStats.Builder builder =
            GenerationStats.newBuilder()
                .setWallMs((queueNanos + computeNanos) / 1_000_000)
                .setQueueMs(queueNanos / 1_000_000)
                .setComputeMs(computeNanos / 1_000_000)
                .setBlockEvals(media.blockEvaluations())
                .setBlockSkips(media.blockSkips())
                .setBatchSize(media.batchSize())
                .setTruncatedTokens(media.truncatedTokens())
                .setSeed(spec.seed())
                .setWorker(options.workerName());
        cache(builder);
        GenerationStats stats = builder.build();
        sendResult(media, stats);
        sink.complete();
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
        sink.fail(
            requestId,
            Status.INTERNAL.withDescription(
                "could not deliver the result (request " + requestId + ")"));
      }
    }

    private void sendResult(GeneratedMedia media, GenerationStats stats) throws IOException {
      MediaKind kind = media.isVideo() ? MediaKind.MP4 : MediaKind.PNG;
      byte[] bytes =
          media.isVideo()
              ? MediaFiles.mp4Bytes(media.frames(), media.fps())
              : media.frames().get(0).toPng();
      String mime = kind.mimeType();
      String extension = kind.extension();
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
        sink.send(
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
        sink.send(event(requestId).setResult(result).build());
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
        sink.fail(requestId, Status.CANCELLED.withDescription("generation cancelled"));
        return;
      }
      if (error instanceof IllegalArgumentException) {
        metrics.request("invalid_argument");
        sink.fail(requestId, Status.INVALID_ARGUMENT.withDescription(error.getMessage()));
        return;
      }
      LOG.error("request_id={} generation failed", requestId, error);
      metrics.request("internal");
      sink.fail(
          requestId,
          Status.INTERNAL.withDescription(
              "generation failed (request " + requestId + "); see the worker log"));
    }
  }

  private static String safeName(String requestId) {
    return requestId.replaceAll("[^A-Za-z0-9._-]", "_");
  }
}
