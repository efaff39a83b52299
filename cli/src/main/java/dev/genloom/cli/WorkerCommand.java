package dev.genloom.cli;

import com.sun.net.httpserver.HttpServer;
import dev.genloom.generators.Generator;
import dev.genloom.generators.Generators;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelRepository;
import dev.genloom.workers.ModelMemory;
import dev.genloom.workers.TokenAuthInterceptor;
import dev.genloom.workers.WorkerMetrics;
import dev.genloom.workers.WorkerOptions;
import dev.genloom.workers.WorkerServer;
import dev.genloom.workers.openai.OpenAiServer;
import dev.genloom.workers.openai.PemTls;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
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
          + " server reflection), and with --openai-port OpenAI's images API over HTTP."
          + " Compatible requests are batched dynamically. On SIGTERM the worker reports"
          + " NOT_SERVING, refuses new calls, finishes in-flight work and exits."
    })
class WorkerCommand implements Callable<Integer> {
  @Mixin ModelsOption modelsOption;

  @Option(
      names = "--port",
      paramLabel = "PORT",
      description = "gRPC port (default: ${DEFAULT-VALUE}; 0 picks a free one).",
      defaultValue = "50051")
  int port;

  @Option(
      names = "--bind",
      paramLabel = "ADDR",
      description =
          "Address to listen on, for gRPC, /metrics and the OpenAI API (default:"
              + " ${DEFAULT-VALUE}, this machine only; 0.0.0.0 for every interface, as containers"
              + " need).",
      defaultValue = "127.0.0.1")
  String bind;

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
      description =
          "Prometheus /metrics port (default: ${DEFAULT-VALUE}; 0 picks a free one, -1"
              + " disables).",
      defaultValue = "9464")
  int metricsPort;

  @Option(
      names = "--openai-port",
      paramLabel = "PORT",
      description =
          "OpenAI images API port (POST /v1/images/generations, GET /v1/models), with the"
              + " worker's TLS, token, queue and batching (default: ${DEFAULT-VALUE}, disabled;"
              + " 0 picks a free one).",
      defaultValue = "-1")
  int openaiPort;

  @Option(
      names = "--max-prompt-chars",
      paramLabel = "N",
      description =
          "Longest prompt or negative prompt accepted, in characters (default: ${DEFAULT-VALUE}).",
      defaultValue = "" + WorkerOptions.DEFAULT_MAX_PROMPT_CHARS)
  int maxPromptChars;

  @Option(
      names = "--memory-limit",
      paramLabel = "SIZE",
      description =
          "Most model weights to take on, e.g. 24G or 800M: the packages' component files, what"
              + " they occupy once loaded. A package that does not fit is refused by name and the"
              + " worker does not start (default: no limit).")
  String memoryLimit;

  @Option(
      names = "--drain-seconds",
      paramLabel = "S",
      description = "Longest graceful drain on SIGTERM (default: ${DEFAULT-VALUE}).",
      defaultValue = "60")
  long drainSeconds;

  @Option(
      names = "--name",
      paramLabel = "NAME",
      description = "Worker name reported in results (default: host:port).")
  String name;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    checkPorts(); // a bad port or address is refused before any model loads
    InetSocketAddress address = address(bind, port);
    ModelRepository repository = modelsOption.repository();
    ServerCredentials credentials = credentials();
    // The OpenAI API's HTTPS uses the same certificate, key and client CA as gRPC.
    Optional<javax.net.ssl.SSLContext> https = Optional.empty();
    if (openaiPort >= 0 && tlsCert != null) {
      try {
        https =
            Optional.of(PemTls.serverContext(tlsCert, tlsKey, Optional.ofNullable(tlsClientCa)));
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
    }
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
            maxPromptChars,
            name != null ? name : hostName() + ":" + port,
            memoryLimit == null ? 0L : ByteSize.parse("memory-limit", memoryLimit));
    try {
      ModelMemory.admit(repository, options.memoryLimitBytes());
    } catch (IllegalArgumentException e) {
      throw new UserException(e.getMessage());
    }
    if (outputRoot != null) {
      Files.createDirectories(outputRoot);
    }
    WorkerMetrics metrics = new WorkerMetrics();
    if (!address.getAddress().isLoopbackAddress() && (tlsCert == null || authTokenFile == null)) {
      spec.commandLine()
          .getErr()
          .printf(
              "warning: listening on %s beyond this machine %s; anyone who can reach it can %s%n",
              bind,
              tlsCert == null && authTokenFile == null
                  ? "without TLS or a token"
                  : tlsCert == null ? "without TLS" : "without a token",
              tlsCert == null ? "read prompts and media in transit" : "generate");
      spec.commandLine().getErr().flush();
    }
    HttpServer metricsServer = null;
    if (metricsPort >= 0) {
      try {
        metricsServer = metrics.serve(bind, metricsPort);
      } catch (java.net.BindException e) {
        throw new UserException(
            "metrics-port: port "
                + metricsPort
                + " on "
                + bind
                + " is already in use (another worker?); choose another with --metrics-port,"
                + " 0 for a free one, or -1 to disable metrics");
      }
    }
    java.util.function.Function<ModelPackage, Generator> opener = opener(options);
    WorkerServer worker;
    try {
      worker =
          WorkerServer.start(
              io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder.forAddress(
                  address, credentials),
              repository,
              options,
              metrics,
              interceptors,
              opener);
    } catch (IOException e) {
      if (metricsServer != null) {
        metricsServer.stop(0);
      }
      if (e.getCause() instanceof java.net.BindException || e instanceof java.net.BindException) {
        throw new UserException(
            "port: port "
                + port
                + " on "
                + bind
                + " is already in use (another worker?); choose another with --port, or 0 for a"
                + " free one");
      }
      throw e;
    }
    OpenAiServer openai = null;
    if (openaiPort >= 0) {
      try {
        openai =
            OpenAiServer.start(
                worker.localChannel(),
                new OpenAiServer.Settings(
                    bind, openaiPort, https, tlsClientCa != null, Optional.ofNullable(outputRoot)));
      } catch (java.net.BindException e) {
        worker.drain(1);
        if (metricsServer != null) {
          metricsServer.stop(0);
        }
        throw new UserException(
            "openai-port: port "
                + openaiPort
                + " on "
                + bind
                + " is already in use; choose another with --openai-port, 0 for a free one, or"
                + " -1 to disable the OpenAI API");
      }
    }
    out.printf(
        "genloom worker listening on %s port %d (%s%s); loading models from %s%n",
        bind,
        worker.port(),
        tlsCert == null ? "plaintext" : tlsClientCa == null ? "TLS" : "mutual TLS",
        authTokenFile == null ? "" : ", token auth",
        repository.folder());
    if (metricsServer != null) {
      out.printf("metrics on http://%s:%d/metrics%n", bind, metricsServer.getAddress().getPort());
    }
    if (openai != null) {
      out.printf("OpenAI images API on %s%n", openai.baseUrl(bind));
    }
    out.flush();
    HttpServer metricsHttp = metricsServer;
    OpenAiServer openaiHttp = openai;
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    worker.drain(drainSeconds);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                  if (metricsHttp != null) {
                    metricsHttp.stop(0);
                  }
                  if (openaiHttp != null) {
                    openaiHttp.close();
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

  /** How each package becomes a generator: the real model, on the worker's device. */
  java.util.function.Function<ModelPackage, Generator> opener(WorkerOptions options) {
    return pkg -> Generators.open(pkg, options.device());
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

  private void checkPorts() {
    if (port < 0 || port > 65535) {
      throw new UserException("port: must be in 0..65535 (0 picks a free one), got " + port);
    }
    if (metricsPort < -1 || metricsPort > 65535) {
      throw new UserException(
          "metrics-port: must be in 0..65535, or -1 to disable metrics, got " + metricsPort);
    }
    if (openaiPort < -1 || openaiPort > 65535) {
      throw new UserException(
          "openai-port: must be in 0..65535, or -1 to disable the OpenAI API, got " + openaiPort);
    }
  }

  private static InetSocketAddress address(String bind, int port) {
    InetSocketAddress address = new InetSocketAddress(bind, port);
    if (address.isUnresolved()) {
      throw new UserException("bind: cannot resolve '" + bind + "'");
    }
    return address;
  }
}
