package dev.genloom.pipelines;

import dev.genloom.generators.ModelRepository;
import dev.genloom.workers.WorkerMetrics;
import dev.genloom.workers.WorkerOptions;
import dev.genloom.workers.WorkerServer;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Real Genloom workers on loopback ports serving the shipped tiny-ldm, for pipeline tests. */
final class LoopbackWorkers implements AutoCloseable {
  final List<WorkerServer> servers = new ArrayList<>();

  static LoopbackWorkers start(Path temp, int count) throws Exception {
    Path models = Files.createDirectories(temp.resolve("models"));
    if (!Files.exists(models.resolve("tiny-ldm"))) {
      Files.createSymbolicLink(
          models.resolve("tiny-ldm"),
          Path.of("..", "models", "tiny-ldm").toAbsolutePath().normalize());
    }
    LoopbackWorkers workers = new LoopbackWorkers();
    for (int i = 0; i < count; i++) {
      WorkerServer server =
          WorkerServer.start(
              Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()),
              ModelRepository.scan(models),
              WorkerOptions.defaults().withBatching(8, 5, 256),
              new WorkerMetrics(),
              List.of());
      server.ready().get(120, TimeUnit.SECONDS);
      workers.servers.add(server);
    }
    return workers;
  }

  String addresses() {
    return String.join(",", servers.stream().map(s -> "127.0.0.1:" + s.port()).toList());
  }

  @Override
  public void close() throws InterruptedException {
    for (WorkerServer server : servers) {
      server.drain(10);
    }
  }
}
