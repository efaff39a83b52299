package dev.genloom.workers;

import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running worker: the generation service plus the standard health and reflection services on a
 * server the caller builds (in-process for tests, a TLS socket in production). Health reports
 * NOT_SERVING while the model packages load and SERVING after.
 *
 * <p>The same generation service, behind the same interceptors, is also reachable in-process
 * through {@link #localChannel()}, so an endpoint beside gRPC (the OpenAI images API) goes through
 * the same token check, admission queue and batching as a gRPC client.
 */
public final class WorkerServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerServer.class);
  public static final String SERVICE = "genloom.v1.GenerationService";

  /** Threads that run call handlers; generation itself runs on the scheduler's compute threads. */
  public static final int CALL_THREADS = 8;

  private final Server server;
  private final Server local;
  private final ManagedChannel localChannel;
  private final HealthStatusManager health;
  private final CompletableFuture<Void> ready;
  private final WorkerMetrics metrics;
  private final java.util.concurrent.ExecutorService callExecutor;
  private final GenerationService service;
  private volatile BatchingScheduler scheduler;
  private volatile Map<String, Generator> generators = Map.of();

  private WorkerServer(
      Server server,
      Server local,
      ManagedChannel localChannel,
      HealthStatusManager health,
      CompletableFuture<Void> ready,
      WorkerMetrics metrics,
      java.util.concurrent.ExecutorService callExecutor,
      GenerationService service) {
    this.callExecutor = callExecutor;
    this.service = service;
    this.server = server;
    this.local = local;
    this.localChannel = localChannel;
    this.health = health;
    this.ready = ready;
    this.metrics = metrics;
  }

  /**
   * Starts serving at once and loads {@code repository}'s generators in the background.
   *
   * @param interceptors applied to the generation service (e.g. token auth); health stays open
   */
  public static WorkerServer start(
      ServerBuilder<?> builder,
      ModelRepository repository,
      WorkerOptions options,
      WorkerMetrics metrics,
      List<ServerInterceptor> interceptors)
      throws IOException {
    return start(
        builder,
        repository,
        options,
        metrics,
        interceptors,
        pkg -> Generators.open(pkg, options.device()));
  }

  /**
   * As {@link #start(ServerBuilder, ModelRepository, WorkerOptions, WorkerMetrics, List)}, with the
   * generators made by {@code opener} (a fleet load test passes {@link
   * dev.genloom.generators.LatencyDouble}s).
   */
  public static WorkerServer start(
      ServerBuilder<?> builder,
      ModelRepository repository,
      WorkerOptions options,
      WorkerMetrics metrics,
      List<ServerInterceptor> interceptors,
      java.util.function.Function<ModelPackage, Generator> opener)
      throws IOException {
    ModelMemory.admit(repository, options.memoryLimitBytes());
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.NOT_SERVING);
    health.setStatus(SERVICE, ServingStatus.NOT_SERVING);
    GenerationService service =
        new GenerationService(new ModelCatalog(repository), options, metrics);
    java.util.concurrent.ExecutorService callExecutor =
        java.util.concurrent.Executors.newFixedThreadPool(
            CALL_THREADS,
            r -> {
              Thread t = new Thread(r, "genloom-call");
              t.setDaemon(true);
              return t;
            });
    ServerServiceDefinition generation = ServerInterceptors.intercept(service, interceptors);
    Server server =
        builder
            .executor(callExecutor)
            .addService(generation)
            .addService(health.getHealthService())
            .addService(ProtoReflectionServiceV1.newInstance())
            .maxInboundMessageSize(options.chunkBytes() + (16 << 20))
            .build()
            .start();
    String localName = InProcessServerBuilder.generateName();
    Server local =
        InProcessServerBuilder.forName(localName)
            .executor(callExecutor)
            .addService(generation)
            .build()
            .start();
    ManagedChannel localChannel =
        InProcessChannelBuilder.forName(localName)
            .maxInboundMessageSize(options.chunkBytes() + (16 << 20))
            .build();
    CompletableFuture<Void> ready = new CompletableFuture<>();
    WorkerServer worker =
        new WorkerServer(
            server, local, localChannel, health, ready, metrics, callExecutor, service);
    Thread loader =
        new Thread(
            () -> {
              try {
                Map<String, Generator> loaded = new LinkedHashMap<>();
                for (ModelPackage pkg : repository.packages()) {
                  if (pkg.kind() == dev.genloom.proto.v1.ModelKind.MODEL_KIND_FEATURES) {
                    continue;
                  }
                  LOG.info("loading model {} ({})", pkg.name(), pkg.kind());
                  loaded.put(pkg.name(), opener.apply(pkg));
                }
                BatchingScheduler scheduler =
                    new BatchingScheduler(
                        options.maxQueue(),
                        options.maxBatch(),
                        options.maxQueueDelayMillis(),
                        options.computeThreads(),
                        metrics);
                worker.scheduler = scheduler;
                worker.generators = loaded;
                service.ready(loaded, scheduler);
                metrics.modelsLoaded(loaded.size());
                metrics.models(loaded, ModelMemory.weightBytes(repository));
                health.setStatus(
                    HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
                health.setStatus(SERVICE, ServingStatus.SERVING);
                LOG.info("serving {} models on port {}", loaded.size(), server.getPort());
                ready.complete(null);
              } catch (RuntimeException e) {
                LOG.error("loading models failed: {}", e.getMessage());
                ready.completeExceptionally(e);
              }
            },
            "genloom-model-loader");
    loader.setDaemon(true);
    loader.start();
    return worker;
  }

  /** Completes when every generator is loaded (or fails with the load error). */
  public CompletableFuture<Void> ready() {
    return ready;
  }

  public int port() {
    return server.getPort();
  }

  /**
   * An in-process channel to this worker's generation service, behind the same interceptors as the
   * network server (a call without the worker's bearer token in its {@code authorization} header is
   * refused). Closed by the drain.
   */
  public Channel localChannel() {
    return localChannel;
  }

  public WorkerMetrics metrics() {
    return metrics;
  }

  /** Requests waiting plus running, for tests and the drain. */
  public int inFlight() {
    BatchingScheduler s = scheduler;
    return s == null ? 0 : s.queued() + s.running();
  }

  /** Waits until no request is queued or running; false on timeout. */
  public boolean awaitIdle(long timeoutMillis) throws InterruptedException {
    BatchingScheduler s = scheduler;
    return s == null || s.awaitIdle(timeoutMillis);
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /**
   * Graceful drain: health goes NOT_SERVING, new calls are refused, in-flight generations finish
   * (up to {@code timeoutSeconds}), then models are released.
   */
  public void drain(long timeoutSeconds) throws InterruptedException {
    service.drain();
    health.enterTerminalState();
    server.shutdown();
    local.shutdown();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    boolean drained = server.awaitTermination(timeoutSeconds, TimeUnit.SECONDS);
    drained &=
        local.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    if (!drained) {
      LOG.warn("drain timed out after {} s; cancelling remaining calls", timeoutSeconds);
      server.shutdownNow();
      local.shutdownNow();
      server.awaitTermination(5, TimeUnit.SECONDS);
      local.awaitTermination(5, TimeUnit.SECONDS);
    }
    localChannel.shutdownNow();
    BatchingScheduler s = scheduler;
    if (s != null) {
      s.close();
    }
    generators.values().forEach(Generator::close);
    callExecutor.shutdown();
  }

  @Override
  public void close() throws InterruptedException {
    drain(30);
  }
}
