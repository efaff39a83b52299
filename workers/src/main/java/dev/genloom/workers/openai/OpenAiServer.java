package dev.genloom.workers.openai;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.grpc.Channel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OpenAI images API of a worker, on the JDK HTTP server (HTTPS with the worker's certificate
 * when it has one): {@code POST /v1/images/generations}, {@code GET /v1/models[/ID]} and {@code GET
 * /v1/images/files/NAME}. Every answer that is not a success is OpenAI's error object.
 *
 * <p>The JDK server does not watch a connection while its request is being answered, so an admitted
 * image request holds its answer open and writes a space (JSON allows leading whitespace) every
 * {@link OpenAiImagesHandler#HEARTBEAT}: a client that went away makes that write fail, and its
 * images are cancelled, freeing their queue and compute slots.
 */
public final class OpenAiServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(OpenAiServer.class);

  /** Threads that read requests, wait on nothing, and write answers. */
  static final int THREADS = 8;

  /**
   * Where and how to listen.
   *
   * @param host the worker's bind address
   * @param port 0 picks a free one
   * @param tls the worker's certificate and key, for HTTPS; empty for plain HTTP
   * @param requireClientCertificate as the worker's mutual TLS
   * @param outputRoot the worker's output root; without one, {@code response_format: "url"} is
   *     refused
   */
  public record Settings(
      String host,
      int port,
      Optional<SSLContext> tls,
      boolean requireClientCertificate,
      Optional<Path> outputRoot) {
    /** Plain HTTP on {@code host:port}, without URL delivery. */
    public static Settings plain(String host, int port) {
      return new Settings(host, port, Optional.empty(), false, Optional.empty());
    }
  }

  private final HttpServer server;
  private final ExecutorService threads;
  private final ScheduledExecutorService heartbeats;
  private final String scheme;

  private OpenAiServer(
      HttpServer server,
      ExecutorService threads,
      ScheduledExecutorService heartbeats,
      String scheme) {
    this.server = server;
    this.threads = threads;
    this.heartbeats = heartbeats;
    this.scheme = scheme;
  }

  /**
   * Serves the API over {@code worker}, a channel to the worker's generation service behind its
   * interceptors ({@link dev.genloom.workers.WorkerServer#localChannel()}).
   *
   * @throws java.net.BindException when the port is taken
   */
  public static OpenAiServer start(Channel worker, Settings settings) throws IOException {
    InetSocketAddress address = new InetSocketAddress(settings.host(), settings.port());
    HttpServer server;
    if (settings.tls().isPresent()) {
      HttpsServer https = HttpsServer.create(address, 0);
      https.setHttpsConfigurator(
          new HttpsConfigurator(settings.tls().get()) {
            @Override
            public void configure(HttpsParameters params) {
              SSLParameters ssl = getSSLContext().getDefaultSSLParameters();
              ssl.setNeedClientAuth(settings.requireClientCertificate());
              params.setSSLParameters(ssl);
            }
          });
      server = https;
    } else {
      server = HttpServer.create(address, 0);
    }
    ExecutorService threads =
        Executors.newFixedThreadPool(
            THREADS,
            r -> {
              Thread t = new Thread(r, "genloom-openai");
              t.setDaemon(true);
              return t;
            });
    ScheduledExecutorService heartbeats =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "genloom-openai-heartbeat");
              t.setDaemon(true);
              return t;
            });
    long created = System.currentTimeMillis() / 1000;
    server.createContext(
        OpenAiImagesHandler.PATH,
        guarded(
            new OpenAiImagesHandler(
                worker,
                threads,
                heartbeats,
                settings.outputRoot().isPresent(),
                settings.tls().isPresent())));
    server.createContext(
        OpenAiModelsHandler.PATH, guarded(new OpenAiModelsHandler(worker, created)));
    server.createContext(
        OpenAiFilesHandler.PATH, guarded(new OpenAiFilesHandler(worker, settings.outputRoot())));
    server.createContext("/", exchange -> OpenAiHttp.sendError(exchange, noSuchEndpoint(exchange)));
    server.setExecutor(threads);
    server.start();
    return new OpenAiServer(
        server, threads, heartbeats, settings.tls().isPresent() ? "https" : "http");
  }

  static OpenAiException noSuchEndpoint(HttpExchange exchange) {
    return new OpenAiException(
        404,
        OpenAiErrors.INVALID_REQUEST,
        null,
        "not_found",
        exchange.getRequestMethod()
            + " "
            + exchange.getRequestURI().getPath()
            + ": no such endpoint; this worker serves POST "
            + OpenAiImagesHandler.PATH
            + " and GET "
            + OpenAiModelsHandler.PATH);
  }

  /** A handler whose unexpected failure is a logged 500 in the error shape. */
  private static HttpHandler guarded(HttpHandler handler) {
    return exchange -> {
      try {
        handler.handle(exchange);
      } catch (RuntimeException e) {
        LOG.error("{} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
        OpenAiHttp.sendError(
            exchange,
            new OpenAiException(
                500,
                OpenAiErrors.SERVER_ERROR,
                null,
                "internal_error",
                "internal error; see the worker log"));
      }
    };
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** {@code http[s]://HOST:PORT/v1}, the base URL an OpenAI client takes. */
  public String baseUrl(String host) {
    return scheme + "://" + host + ":" + port() + "/v1";
  }

  /** Stops listening; answers still being written get a second. */
  @Override
  public void close() {
    server.stop(1);
    heartbeats.shutdownNow();
    threads.shutdown();
  }
}
