package dev.genloom.cli;

import com.sun.net.httpserver.HttpServer;
import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.LatencyDouble;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import dev.genloom.workers.TokenAuthInterceptor;
import dev.genloom.workers.WorkerMetrics;
import dev.genloom.workers.WorkerOptions;
import dev.genloom.workers.WorkerServer;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code genloom worker}: serves the model packages over gRPC until SIGTERM, then drains. */
@Command(
    name = "worker",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Serve the model packages over gRPC (genloom.v1.GenerationService, with gRPC health and"
          + " server reflection). Compatible requests are batched dynamically. On SIGTERM the"
          + " worker reports NOT_SERVING, refuses new calls, finishes in-flight work and exits."
    })
final class WorkerCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(
      names = "--port",
      paramLabel = "PORT",
      description = "gRPC port (default: ${DEFAULT-VALUE}; 0 picks a free one).",
      defaultValue = "50051")
  int port;

  @Option(
      names = "--device",
      paramLabel = "DEV",
      description = "cpu or gpu:N (default: ${DEFAULT-VALUE}).",
      defaultValue = "cpu")
  String device;

  @Option(
      names = "--max-batch",
      paramLabel = "N",
      description = "Largest dynamic batch (default: ${DEFAULT-VALUE}; 1 disables batching).",
      defaultValue = "8")
  int maxBatch;

  @Option(
      names = "--max-queue-delay-ms",
      paramLabel = "MS",
      description = "Longest a request waits for batch partners (default: ${DEFAULT-VALUE}).",
      defaultValue = "20")
  long maxQueueDelayMs;

  @Option(
      names = "--max-queue",
      paramLabel = "N",
      description =
          "Requests that may wait; more get RESOURCE_EXHAUSTED (default: ${DEFAULT-VALUE}).",
      defaultValue = "64")
  int maxQueue;

  @Option(
      names = "--threads",
      paramLabel = "N",
      description = "Batches computed concurrently (default: ${DEFAULT-VALUE}).",
      defaultValue = "1")
  int threads;

  @Option(
      names = "--tls-cert",
      paramLabel = "FILE",
      description = "Server certificate chain (PEM); enables TLS.")
  Path tlsCert;

  @Option(
      names = "--tls-key",
      paramLabel = "FILE",
      description = "Server private key (PKCS#8 PEM).")
  Path tlsKey;

  @Option(
      names = "--tls-client-ca",
      paramLabel = "FILE",
      description = "CA for client certificates; enables mutual TLS.")
  Path tlsClientCa;

  @Option(
      names = "--auth-token-file",
      paramLabel = "FILE",
      description = "File holding the bearer token clients must send.")
  Path authTokenFile;

  @Option(
      names = "--output-root",
      paramLabel = "DIR",
      description = "Folder for media delivered as URIs (default: inline bytes only).")
  Path outputRoot;

  @Option(
      names = "--allowed-input-root",
      paramLabel = "DIR",
      description = "Folder reference-image URIs may point into (repeatable).")
  List<Path> inputRoots = new ArrayList<>();

  @Option(
      names = "--max-reference-bytes",
      paramLabel = "N",
      description = "Largest reference image (default: ${DEFAULT-VALUE}).",
      defaultValue = "8388608")
  long maxReferenceBytes;

  @Option(
      names = "--metrics-port",
      paramLabel = "PORT",
      description = "Prometheus /metrics port (default: ${DEFAULT-VALUE}; -1 disables).",
      defaultValue = "9464")
  int metricsPort;

  @Option(
      names = "--drain-seconds",
      paramLabel = "S",
      description = "Longest graceful drain on SIGTERM (default: ${DEFAULT-VALUE}).",
      defaultValue = "60")
  long drainSeconds;

  @Option(
      names = "--latency-double-step-ms",
      paramLabel = "T",
      description =
          "TEST DOUBLE for fleet load tests: instead of running the models, sleep T ms per step"
              + " and return solid images. Never use it to serve real traffic.")
  Long latencyDoubleStepMs;

  @Option(
      names = "--name",
      paramLabel = "NAME",
      description = "Worker name reported in results (default: host:port).")
  String name;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    ModelRepository repository = modelsOption.repository();
    ServerCredentials credentials = credentials();
    List<ServerInterceptor> interceptors = new ArrayList<>();
    if (authTokenFile != null) {
      if (!Files.isReadable(authTokenFile)) {
        throw new UserException("auth-token-file: cannot read " + authTokenFile);
      }
      interceptors.add(new TokenAuthInterceptor(Files.readString(authTokenFile)));
    }
    WorkerOptions options =
        new WorkerOptions(
            Generators.device(device),
            maxBatch,
            maxQueueDelayMs,
            maxQueue,
            threads,
            Optional.ofNullable(outputRoot),
            inputRoots,
            maxReferenceBytes,
            3 << 20,
            name != null ? name : hostName() + ":" + port);
    if (outputRoot != null) {
      Files.createDirectories(outputRoot);
    }
    WorkerMetrics metrics = new WorkerMetrics();
    HttpServer metricsServer = metricsPort >= 0 ? metrics.serve("0.0.0.0", metricsPort) : null;
    java.util.function.Function<ModelPackage, Generator> opener =
        pkg -> Generators.open(pkg, options.device());
    if (latencyDoubleStepMs != null) {
      long stepMs = latencyDoubleStepMs;
      opener = pkg -> new LatencyDouble(pkg, stepMs);
      out.printf(
          "TEST DOUBLE: this worker runs no model; every package sleeps %d ms per step and returns"
              + " solid images (--latency-double-step-ms)%n",
          stepMs);
    }
    WorkerServer worker =
        WorkerServer.start(
            Grpc.newServerBuilderForPort(port, credentials),
            repository,
            options,
            metrics,
            interceptors,
            opener);
    out.printf(
        "genloom worker listening on port %d (%s%s); loading models from %s%n",
        worker.port(),
        tlsCert == null ? "plaintext" : tlsClientCa == null ? "TLS" : "mutual TLS",
        authTokenFile == null ? "" : ", token auth",
        repository.folder());
    if (metricsServer != null) {
      out.printf("metrics on http://0.0.0.0:%d/metrics%n", metricsServer.getAddress().getPort());
    }
    out.flush();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    worker.drain(drainSeconds);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                  if (metricsServer != null) {
                    metricsServer.stop(0);
                  }
                },
                "genloom-drain"));
    try {
      worker.ready().get();
      out.println("ready: serving " + repository.packages().size() + " packages (health SERVING)");
      out.flush();
    } catch (ExecutionException e) {
      worker.drain(1);
      throw new UserException("loading models failed: " + e.getCause().getMessage(), 1);
    }
    worker.awaitTermination();
    return 0;
  }

  private ServerCredentials credentials() throws IOException {
    if (tlsCert == null && tlsKey == null) {
      if (tlsClientCa != null) {
        throw new UserException("tls-client-ca: needs --tls-cert and --tls-key");
      }
      return InsecureServerCredentials.create();
    }
    if (tlsCert == null || tlsKey == null) {
      throw new UserException("tls-cert: --tls-cert and --tls-key go together");
    }
    TlsServerCredentials.Builder tls =
        TlsServerCredentials.newBuilder().keyManager(tlsCert.toFile(), tlsKey.toFile());
    if (tlsClientCa != null) {
      tls.trustManager(tlsClientCa.toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
    }
    return tls.build();
  }

  private static String hostName() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "localhost";
    }
  }
}
