package dev.genloom.workers.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.genloom.proto.v1.GenerateBatchRequest;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.ListModelsRequest;
import dev.genloom.proto.v1.ListModelsResponse;
import dev.genloom.proto.v1.Media;
import dev.genloom.proto.v1.ModelKind;
import dev.genloom.proto.v1.ModelSummary;
import dev.genloom.proto.v1.Result;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /v1/images/generations}: the body becomes one GenerateBatch call to the worker (image
 * {@code i} is request {@code ID-i}), so the n images are admitted to the queue together or refused
 * together (429), and batched like any gRPC request. Every call carries the caller's {@code
 * Authorization} header for the worker's token check. The first failed image ends the call and is
 * the answer.
 *
 * <p>Every refusal (a bad field, a wrong token, a full queue, settings the model cannot sample
 * with) comes before the first denoising step, with its own status. Once an image is being
 * generated (its first Progress event), the answer is committed as 200 and held open: a space is
 * written every {@link #HEARTBEAT} until the images are done and the JSON follows. A client that
 * disconnected makes such a write fail, and the call is cancelled, which frees its images' compute
 * and queue slots; a client that leaves while its images wait in the queue is noticed when the
 * first of them starts. An image that fails later (the worker shutting down, a model error) still
 * answers with OpenAI's error object, in that 200 body.
 */
final class OpenAiImagesHandler implements HttpHandler {
  private static final Logger LOG = LoggerFactory.getLogger(OpenAiImagesHandler.class);
  static final String PATH = "/v1/images/generations";
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.:\\[\\]-]{1,300}");

  /**
   * How often a held-open answer writes a space: a client that went away is noticed at the second
   * write after it left (the first only draws the peer's reset).
   */
  static final Duration HEARTBEAT = Duration.ofMillis(250);

  private final Channel worker;
  private final Executor callbacks;
  private final ScheduledExecutorService heartbeats;
  private final boolean urls;
  private final String scheme;

  OpenAiImagesHandler(
      Channel worker,
      Executor callbacks,
      ScheduledExecutorService heartbeats,
      boolean urls,
      boolean https) {
    this.worker = worker;
    this.callbacks = callbacks;
    this.heartbeats = heartbeats;
    this.urls = urls;
    this.scheme = https ? "https" : "http";
  }

  @Override
  public void handle(HttpExchange exchange) {
    try {
      if (!exchange.getRequestURI().getPath().equals(PATH)) {
        throw OpenAiServer.noSuchEndpoint(exchange);
      }
      OpenAiHttp.requireMethod(exchange, "POST");
    } catch (OpenAiException e) {
      OpenAiHttp.sendError(exchange, e);
      return;
    }
    OpenAiImageRequest request = null;
    OpenAiException refused = null;
    try {
      request = OpenAiImageRequest.parse(OpenAiHttp.readJson(exchange));
      if (request.format() == OpenAiImageRequest.Format.URL && !urls) {
        throw OpenAiException.invalid(
            "response_format",
            "invalid_value",
            "response_format: url needs a worker with an output root (--output-root); use"
                + " b64_json");
      }
    } catch (OpenAiException e) {
      refused = e;
    } catch (IOException e) {
      LOG.info("{}: could not read the request ({})", PATH, e.getMessage());
      exchange.close();
      return;
    }
    var stub =
        GenerationServiceGrpc.newStub(worker)
            .withExecutor(callbacks)
            .withInterceptors(
                MetadataUtils.newAttachHeadersInterceptor(OpenAiHttp.credentials(exchange)));
    // ListModels first: the worker's token check (a caller without the token learns nothing about
    // its request, not even that it is malformed), then whether the model makes images.
    OpenAiImageRequest parsed = request;
    OpenAiException invalid = refused;
    stub.listModels(
        ListModelsRequest.getDefaultInstance(),
        new StreamObserver<>() {
          @Override
          public void onNext(ListModelsResponse models) {
            try {
              if (invalid != null) {
                throw invalid;
              }
              checkModel(parsed.model(), models);
              stub.generateBatch(
                  parsed.toBatch(UUID.randomUUID().toString()), new Images(exchange, parsed));
            } catch (OpenAiException e) {
              OpenAiHttp.sendError(exchange, e);
            }
          }

          @Override
          public void onError(Throwable t) {
            OpenAiHttp.sendError(exchange, OpenAiErrors.fromStatus(Status.fromThrowable(t)));
          }

          @Override
          public void onCompleted() {}
        });
  }

  /** 404 for a model the worker does not serve, 400 for one that makes videos. */
  private static void checkModel(String name, ListModelsResponse models) throws OpenAiException {
    ModelSummary model =
        models.getModelsList().stream()
            .filter(m -> m.getName().equals(name))
            .findFirst()
            .orElseThrow(
                () ->
                    new OpenAiException(
                        404,
                        OpenAiErrors.INVALID_REQUEST,
                        "model",
                        "model_not_found",
                        "model: no model '"
                            + name
                            + "' is served here (GET /v1/models lists them)"));
    if (model.getKind() == ModelKind.MODEL_KIND_DIT_VIDEO
        || model.getKind() == ModelKind.MODEL_KIND_LATENT_VIDEO) {
      throw OpenAiException.invalid(
          "model", "invalid_value", "model: '" + name + "' makes videos, not images");
    }
  }

  /** One request's images as they arrive; answers the exchange exactly once. */
  private final class Images
      implements ClientResponseObserver<GenerateBatchRequest, GenerateEvent> {
    private final HttpExchange exchange;
    private final OpenAiImageRequest request;
    private final ByteArrayOutputStream[] bytes;
    private final String[] uris;
    private final long[] seeds;
    private int finished;
    private boolean answered;
    private ClientCallStreamObserver<GenerateBatchRequest> call;

    /** The committed 200 body, once generation runs. */
    private OutputStream open;

    private ScheduledFuture<?> heartbeat;

    Images(HttpExchange exchange, OpenAiImageRequest request) {
      this.exchange = exchange;
      this.request = request;
      this.bytes = new ByteArrayOutputStream[request.n()];
      this.uris = new String[request.n()];
      this.seeds = new long[request.n()];
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<GenerateBatchRequest> requestStream) {
      this.call = requestStream;
    }

    @Override
    public synchronized void onNext(GenerateEvent event) {
      if (answered) {
        return;
      }
      switch (event.getEventCase()) {
        case PROGRESS -> holdOpen();
        case RESULT -> result(index(event.getRequestId()), event.getResult());
        case FAILURE -> {
          Status status =
              Status.fromCodeValue(event.getFailure().getCode())
                  .withDescription(event.getFailure().getMessage());
          fail(OpenAiErrors.fromStatus(status));
          // the other images of the request are of no use any more: free their slots
          call.cancel("another image of the request failed", null);
        }
        default -> {}
      }
    }

    /** Commits the 200 answer once generation runs and starts writing heartbeats into it. */
    private void holdOpen() {
      if (open != null) {
        return;
      }
      try {
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, 0);
        open = exchange.getResponseBody();
        open.flush();
      } catch (IOException e) {
        clientGone(e);
        return;
      }
      long period = HEARTBEAT.toMillis();
      heartbeat = heartbeats.scheduleAtFixedRate(this::beat, period, period, TimeUnit.MILLISECONDS);
    }

    private synchronized void beat() {
      if (answered) {
        return;
      }
      try {
        open.write(' ');
        open.flush();
      } catch (IOException e) {
        clientGone(e);
      }
    }

    /** The client disconnected: nobody will read these images, so they give back their slots. */
    private void clientGone(IOException e) {
      answered = true;
      stopHeartbeat();
      LOG.info(
          "{}: the client went away while {} image(s) were pending ({}); cancelling them",
          PATH,
          request.n() - finished,
          e.getMessage());
      call.cancel("the HTTP client went away", null);
      exchange.close();
    }

    private void stopHeartbeat() {
      if (heartbeat != null) {
        heartbeat.cancel(false);
      }
    }

    private void result(int i, Result result) {
      Media media = result.getMedia(0);
      if (media.hasUri()) {
        uris[i] = media.getUri();
      } else {
        if (bytes[i] == null) {
          bytes[i] = new ByteArrayOutputStream();
        }
        bytes[i].writeBytes(media.getData().toByteArray());
      }
      if (result.getChunkIndex() == result.getChunkCount() - 1) {
        seeds[i] = result.getStats().getSeed();
        finished++;
      }
    }

    @Override
    public synchronized void onError(Throwable t) {
      fail(OpenAiErrors.fromStatus(Status.fromThrowable(t)));
    }

    @Override
    public synchronized void onCompleted() {
      if (answered) {
        return;
      }
      if (finished < request.n()) {
        fail(
            new OpenAiException(
                500,
                OpenAiErrors.SERVER_ERROR,
                null,
                "internal_error",
                "the worker ended the call with "
                    + finished
                    + " of "
                    + request.n()
                    + " images; see the worker log"));
        return;
      }
      answered = true;
      ObjectNode body = OpenAiHttp.JSON.createObjectNode();
      body.put("created", System.currentTimeMillis() / 1000);
      ArrayNode data = body.putArray("data");
      for (int i = 0; i < request.n(); i++) {
        ObjectNode image = data.addObject();
        if (uris[i] != null) {
          image.put("url", url(uris[i]));
        } else {
          image.put("b64_json", Base64.getEncoder().encodeToString(bytes[i].toByteArray()));
        }
        image.put("seed", seeds[i]);
      }
      answer(200, body);
    }

    private void fail(OpenAiException e) {
      if (answered) {
        return;
      }
      if (open != null) {
        LOG.info("{}: failed after admission, answered in the 200 body: {}", PATH, e.getMessage());
      }
      answer(e.status, OpenAiErrors.body(e), e);
    }

    private void answer(int status, JsonNode body) {
      answer(status, body, null);
    }

    /** Ends the exchange with {@code body}: a whole answer, or the rest of the held-open one. */
    private void answer(int status, JsonNode body, OpenAiException error) {
      answered = true;
      stopHeartbeat();
      if (open == null) {
        if (error != null) {
          OpenAiHttp.sendError(exchange, error);
        } else {
          OpenAiHttp.sendJson(exchange, status, body);
        }
        return;
      }
      try (OutputStream out = open) {
        out.write(OpenAiHttp.JSON.writeValueAsBytes(body));
      } catch (IOException e) {
        LOG.info("{}: the client went away before the answer ({})", PATH, e.getMessage());
      } finally {
        exchange.close();
      }
    }

    private int index(String requestId) {
      return Integer.parseInt(requestId.substring(requestId.lastIndexOf('-') + 1));
    }

    /** Where this endpoint serves an image the worker wrote, as the client addressed it. */
    private String url(String fileUri) {
      String name = Path.of(URI.create(fileUri)).getFileName().toString();
      String host = exchange.getRequestHeaders().getFirst("Host");
      if (host == null || !HOST.matcher(host).matches()) {
        InetSocketAddress local = exchange.getLocalAddress();
        String address = local.getAddress().getHostAddress();
        host =
            (local.getAddress() instanceof Inet6Address ? "[" + address + "]" : address)
                + ":"
                + local.getPort();
      }
      return scheme + "://" + host + OpenAiFilesHandler.PATH + name;
    }
  }
}
