package dev.genloom.pipelines;

import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.GenerationServiceGrpc;
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
    return start(temp, count, InsecureServerCredentials.create(), List.of());
  }

  /** The workers' test certificates (CA, server and client), shared with the workers module. */
  static Path cert(String name) {
    return Path.of("..", "workers", "src", "test", "resources", "certs", name)
        .toAbsolutePath()
        .normalize();
  }

  /** One worker requiring mutual TLS (test CA) and the bearer token. */
  static LoopbackWorkers startSecure(Path temp, String token) throws Exception {
    io.grpc.ServerCredentials tls =
        io.grpc.TlsServerCredentials.newBuilder()
            .keyManager(cert("server.pem").toFile(), cert("server.key").toFile())
            .trustManager(cert("ca.pem").toFile())
            .clientAuth(io.grpc.TlsServerCredentials.ClientAuth.REQUIRE)
            .build();
    return start(temp, 1, tls, List.of(new dev.genloom.workers.TokenAuthInterceptor(token)));
  }

  /** Workers that answer GenerateBatch with UNIMPLEMENTED, as a worker that predates it does. */
  static LoopbackWorkers startWithoutBatchCalls(Path temp, int count) throws Exception {
    String batch = GenerationServiceGrpc.getGenerateBatchMethod().getFullMethodName();
    io.grpc.ServerInterceptor older =
        new io.grpc.ServerInterceptor() {
          @Override
          public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(
              io.grpc.ServerCall<Q, R> call,
              io.grpc.Metadata headers,
              io.grpc.ServerCallHandler<Q, R> next) {
            if (call.getMethodDescriptor().getFullMethodName().equals(batch)) {
              call.close(
                  io.grpc.Status.UNIMPLEMENTED.withDescription("Method not found: " + batch),
                  new io.grpc.Metadata());
              return new io.grpc.ServerCall.Listener<>() {};
            }
            return next.startCall(call, headers);
          }
        };
    return start(temp, count, InsecureServerCredentials.create(), List.of(older));
  }

  private static LoopbackWorkers start(
      Path temp,
      int count,
      io.grpc.ServerCredentials credentials,
      List<io.grpc.ServerInterceptor> interceptors)
      throws Exception {
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
              Grpc.newServerBuilderForPort(0, credentials),
              ModelRepository.scan(models),
              WorkerOptions.defaults().withBatching(8, 5, 256),
              new WorkerMetrics(),
              interceptors);
      server.ready().get(120, TimeUnit.SECONDS);
      workers.servers.add(server);
    }
    return workers;
  }

  /** Starts worker {@code index} again on {@code port}, its old one, after it was killed. */
  void restart(Path temp, int index, int port) throws Exception {
    WorkerServer server =
        WorkerServer.start(
            Grpc.newServerBuilderForPort(port, InsecureServerCredentials.create()),
            ModelRepository.scan(temp.resolve("models")),
            WorkerOptions.defaults().withBatching(8, 5, 256),
            new WorkerMetrics(),
            List.of());
    server.ready().get(120, TimeUnit.SECONDS);
    servers.set(index, server);
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
