package dev.genloom.bench;

import dev.genloom.generators.ModelRepository;
import dev.genloom.workers.WorkerMetrics;
import dev.genloom.workers.WorkerOptions;
import dev.genloom.workers.WorkerServer;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A worker in this process on a free loopback port, and a channel to it. */
final class LoopbackWorker implements AutoCloseable {
  private final WorkerServer server;
  private final ManagedChannel channel;

  private LoopbackWorker(WorkerServer server, ManagedChannel channel) {
    this.server = server;
    this.channel = channel;
  }

  /** Starts the worker and waits until its packages are loaded. */
  static LoopbackWorker start(ModelRepository repository, WorkerOptions options) throws Exception {
    WorkerServer server =
        WorkerServer.start(
            Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()),
            repository,
            options,
            new WorkerMetrics(),
            List.of());
    try {
      server.ready().get(10, TimeUnit.MINUTES);
    } catch (Exception e) {
      server.drain(1);
      throw e;
    }
    return new LoopbackWorker(
        server,
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", server.port(), InsecureChannelCredentials.create())
            .build());
  }

  ManagedChannel channel() {
    return channel;
  }

  String address() {
    return "127.0.0.1:" + server.port();
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.drain(30);
  }
}
