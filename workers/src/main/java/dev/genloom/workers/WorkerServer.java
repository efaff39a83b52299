package dev.genloom.workers;

import dev.genloom.generators.ModelRepository;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.util.concurrent.TimeUnit;

/**
 * A running worker: the generation service plus the standard health and reflection services on a
 * server the caller builds (so tests can use the in-process transport and production a TLS socket).
 */
public final class WorkerServer implements AutoCloseable {
  private final Server server;
  private final HealthStatusManager health;

  private WorkerServer(Server server, HealthStatusManager health) {
    this.server = server;
    this.health = health;
  }

  /** Starts serving {@code repository} on {@code builder}; health goes SERVING once started. */
  public static WorkerServer start(ServerBuilder<?> builder, ModelRepository repository)
      throws IOException {
    HealthStatusManager health = new HealthStatusManager();
    BindableService generation = new GenerationService(repository);
    Server server =
        builder
            .addService(generation)
            .addService(health.getHealthService())
            .addService(ProtoReflectionServiceV1.newInstance())
            .build()
            .start();
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, ServingStatus.SERVING);
    health.setStatus("genloom.v1.GenerationService", ServingStatus.SERVING);
    return new WorkerServer(server, health);
  }

  public int port() {
    return server.getPort();
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /** Refuses new calls, lets in-flight calls finish for up to 30 s, then stops. */
  @Override
  public void close() throws InterruptedException {
    health.enterTerminalState();
    server.shutdown();
    if (!server.awaitTermination(30, TimeUnit.SECONDS)) {
      server.shutdownNow();
      server.awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
