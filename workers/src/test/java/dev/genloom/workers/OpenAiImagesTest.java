package dev.genloom.workers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.workers.openai.OpenAiServer;
import dev.genloom.workers.openai.PemTls;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import javax.imageio.ImageIO;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OpenAI images API of a worker serving tiny-ldm with a bearer token, on a loopback port, as an
 * HTTP client sees it.
 */
class OpenAiImagesTest {
  private static final String TOKEN = "openai-test-token";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final java.time.Duration TIMEOUT = java.time.Duration.ofSeconds(60);

  @TempDir Path temp;
  private WorkerServer server;
  private OpenAiServer openai;
  private ManagedChannel grpc;
  private final List<ClientCallStreamObserver<?>> blockers = new ArrayList<>();
  private HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private void start(WorkerOptions options) throws Exception {
    start(options, Optional.empty());
  }

  private void start(WorkerOptions options, Optional<SSLContext> tls) throws Exception {
    Path out = temp.resolve("out");
    String name = InProcessServerBuilder.generateName();
    server =
        WorkerServer.start(
            InProcessServerBuilder.forName(name),
            ModelRepository.scan(ShippedModels.folder(temp, "tiny-ldm")),
            options.withRoots(Optional.of(out), List.of()),
            new WorkerMetrics(),
            List.of(new TokenAuthInterceptor(TOKEN)));
    server.ready().get(120, TimeUnit.SECONDS);
    grpc = InProcessChannelBuilder.forName(name).build();
    openai =
        OpenAiServer.start(
            server.localChannel(),
            new OpenAiServer.Settings("127.0.0.1", 0, tls, tls.isPresent(), Optional.of(out)));
  }

  @AfterEach
  void stop() throws Exception {
    blockers.forEach(call -> call.cancel("test over", null));
    if (openai != null) {
      openai.close();
    }
    if (grpc != null) {
      grpc.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (server != null) {
      server.close();
    }
  }

  private String base() {
    return "http://127.0.0.1:" + openai.port();
  }

  private HttpResponse<String> post(String path, String body, String token) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(base() + path))
            .timeout(TIMEOUT)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<byte[]> get(String url, String token) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT).GET();
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static JsonNode json(HttpResponse<?> response) throws IOException {
    Object body = response.body();
    return body instanceof byte[] bytes ? JSON.readTree(bytes) : JSON.readTree((String) body);
  }

  /** Asserts OpenAI's error object with {@code status}, {@code type} and {@code param}. */
  private static JsonNode assertError(HttpResponse<?> response, int status, String param)
      throws IOException {
    assertEquals(status, response.statusCode(), String.valueOf(response.body()));
    assertEquals(
        "application/json", response.headers().firstValue("Content-Type").orElse(""), "json");
    JsonNode error = json(response).get("error");
    assertTrue(error.get("message").asText().length() > 0, error.toString());
    assertTrue(error.has("type") && error.has("code"), error.toString());
    if (param == null) {
      assertTrue(error.get("param").isNull(), error.toString());
    } else {
      assertEquals(param, error.get("param").asText(), error.toString());
      assertTrue(error.get("message").asText().startsWith(param + ":"), error.toString());
    }
    return error;
  }

  private static BufferedImage png(byte[] bytes) throws IOException {
    assertEquals(
        "\u0089PNG", new String(bytes, 0, 4, java.nio.charset.StandardCharsets.ISO_8859_1));
    return ImageIO.read(new ByteArrayInputStream(bytes));
  }

  @Test
  void generatesNPngsOfTheAskedSizeWithConsecutiveSeeds() throws Exception {
    start(WorkerOptions.defaults());
    HttpResponse<String> response =
        post(
            "/v1/images/generations",
            "{\"model\": \"tiny-ldm\", \"prompt\": \"a red circle on a blue background\", \"n\": 2,"
                + " \"size\": \"32x32\", \"response_format\": \"b64_json\", \"seed\": 7,"
                + " \"steps\": 4, \"guidance_scale\": 3.5, \"negative_prompt\": \"green\"}",
            TOKEN);
    assertEquals(200, response.statusCode(), response.body());
    JsonNode body = json(response);
    assertTrue(body.get("created").asLong() > 1_600_000_000L, body.toString());
    JsonNode data = body.get("data");
    assertEquals(2, data.size());
    List<byte[]> images = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      byte[] bytes = Base64.getDecoder().decode(data.get(i).get("b64_json").asText());
      BufferedImage image = png(bytes);
      assertEquals(32, image.getWidth());
      assertEquals(32, image.getHeight());
      assertEquals(7 + i, data.get(i).get("seed").asLong());
      images.add(bytes);
    }
    assertNotEquals(
        Base64.getEncoder().encodeToString(images.get(0)),
        Base64.getEncoder().encodeToString(images.get(1)),
        "different seeds, different images");
    assertEquals(2, server.metrics().requests("ok"), "both went through the worker's service");
  }

  @Test
  void anImageIsTheOneAGrpcGenerateOfTheSameRequestGives() throws Exception {
    start(WorkerOptions.defaults());
    HttpResponse<String> response =
        post(
            "/v1/images/generations",
            "{\"model\": \"tiny-ldm\", \"prompt\": \"a green square\", \"seed\": 11, \"steps\":"
                + " 3}",
            TOKEN);
    assertEquals(200, response.statusCode(), response.body());
    byte[] overHttp = Base64.getDecoder().decode(json(response).at("/data/0/b64_json").asText());
    List<GenerateEvent> events = new ArrayList<>();
    GenerationServiceGrpc.newBlockingStub(grpc)
        .withCallCredentials(new BearerToken(TOKEN))
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .generate(
            GenerateRequest.newBuilder()
                .setModel("tiny-ldm")
                .setPrompt("a green square")
                .setSeed(11)
                .setSteps(3)
                .build())
        .forEachRemaining(events::add);
    byte[] overGrpc = events.get(events.size() - 1).getResult().getMedia(0).getData().toByteArray();
    assertArrayEquals(overGrpc, overHttp);
  }

  @Test
  void listsAndGetsModelsInOpenAisShape() throws Exception {
    start(WorkerOptions.defaults());
    HttpResponse<byte[]> response = get(base() + "/v1/models", TOKEN);
    assertEquals(200, response.statusCode());
    JsonNode list = json(response);
    assertEquals("list", list.get("object").asText());
    assertEquals(1, list.get("data").size(), list.toString());
    JsonNode model = list.get("data").get(0);
    assertEquals("tiny-ldm", model.get("id").asText());
    assertEquals("model", model.get("object").asText());
    assertEquals("genloom", model.get("owned_by").asText());
    assertTrue(model.get("created").isIntegralNumber(), model.toString());
    JsonNode one = json(get(base() + "/v1/models/tiny-ldm", TOKEN));
    assertEquals("tiny-ldm", one.get("id").asText());
    JsonNode missing = assertError(get(base() + "/v1/models/no-such", TOKEN), 404, "model");
    assertEquals("model_not_found", missing.get("code").asText());
  }

  @Test
  void aBadSizeIsA400NamingSize() throws Exception {
    start(WorkerOptions.defaults());
    for (String size : List.of("32by32", "0x32", "64x64")) {
      JsonNode error =
          assertError(
              post(
                  "/v1/images/generations",
                  "{\"model\": \"tiny-ldm\", \"prompt\": \"a red circle\", \"size\": \""
                      + size
                      + "\"}",
                  TOKEN),
              400,
              "size");
      assertEquals("invalid_request_error", error.get("type").asText());
      assertTrue(error.get("message").asText().contains(size), error.toString());
    }
    assertEquals(0, server.metrics().requests("ok"));
  }

  @Test
  void anUnknownKeyOrModelIsRefusedByName() throws Exception {
    start(WorkerOptions.defaults());
    JsonNode unknown =
        assertError(
            post(
                "/v1/images/generations",
                "{\"model\": \"tiny-ldm\", \"prompt\": \"a red circle\", \"quality\": \"hd\"}",
                TOKEN),
            400,
            "quality");
    assertEquals("unknown_parameter", unknown.get("code").asText());
    assertError(
        post("/v1/images/generations", "{\"model\": \"tiny-ldm\", \"prompt\": \"\"}", TOKEN),
        400,
        "prompt");
    assertError(
        post(
            "/v1/images/generations",
            "{\"model\": \"tiny-ldm\", \"prompt\": \"a\", \"steps\": 5000}",
            TOKEN),
        400,
        "steps");
    JsonNode model =
        assertError(
            post("/v1/images/generations", "{\"model\": \"dall-e-3\", \"prompt\": \"a\"}", TOKEN),
            404,
            "model");
    assertEquals("model_not_found", model.get("code").asText());
    assertError(post("/v1/images/generations", "{\"model\": ", TOKEN), 400, null);
    assertError(post("/v1/images/edits", "{}", TOKEN), 404, null);
    assertError(get(base() + "/v1/images/generations", TOKEN), 405, null);
  }

  @Test
  void aWrongOrMissingTokenIs401() throws Exception {
    start(WorkerOptions.defaults());
    String body = "{\"model\": \"tiny-ldm\", \"prompt\": \"a red circle\"}";
    for (String token : new String[] {"guess", null}) {
      JsonNode error = assertError(post("/v1/images/generations", body, token), 401, null);
      assertEquals("invalid_api_key", error.get("code").asText());
      assertError(get(base() + "/v1/models", token), 401, null);
      // the token is checked before the body: a caller without it learns nothing of its request
      assertError(post("/v1/images/generations", "{\"quality\": 1}", token), 401, null);
    }
    assertEquals(0, server.metrics().requests("ok"));
  }

  /** An asynchronous gRPC Generate that counts {@code latch} down at its first matching event. */
  private void block(
      GenerateRequest request, Predicate<GenerateEvent> signal, CountDownLatch latch) {
    GenerationServiceGrpc.newStub(grpc)
        .withCallCredentials(new BearerToken(TOKEN))
        .generate(
            request,
            new ClientResponseObserver<GenerateRequest, GenerateEvent>() {
              @Override
              public void beforeStart(ClientCallStreamObserver<GenerateRequest> call) {
                blockers.add(call);
              }

              @Override
              public void onNext(GenerateEvent event) {
                if (signal.test(event)) {
                  latch.countDown();
                }
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {}
            });
  }

  @Test
  void anOverloadedQueueIs429AsGrpcGivesResourceExhausted() throws Exception {
    // one compute thread busy with a long request and a queue of one holding another
    start(WorkerOptions.defaults().withBatching(1, 0, 1));
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch queued = new CountDownLatch(1);
    GenerateRequest slow =
        GenerateRequest.newBuilder()
            .setModel("tiny-ldm")
            .setPrompt("a red circle")
            .setSteps(900)
            .build();
    block(slow, GenerateEvent::hasProgress, running);
    assertTrue(running.await(60, TimeUnit.SECONDS));
    block(slow, GenerateEvent::hasQueued, queued);
    assertTrue(queued.await(60, TimeUnit.SECONDS));
    HttpResponse<String> response =
        post(
            "/v1/images/generations",
            "{\"model\": \"tiny-ldm\", \"prompt\": \"a blue square\"}",
            TOKEN);
    JsonNode error = assertError(response, 429, null);
    assertEquals("rate_limit_error", error.get("type").asText());
    assertTrue(error.get("message").asText().contains("queue is full"), error.toString());
    assertEquals("1", response.headers().firstValue("Retry-After").orElse(""));
    assertEquals(1, server.metrics().requests("resource_exhausted"));
    // more images than the queue can ever hold is the caller's mistake, not an overload
    assertError(
        post(
            "/v1/images/generations",
            "{\"model\": \"tiny-ldm\", \"prompt\": \"a blue square\", \"n\": 2}",
            TOKEN),
        400,
        "n");
  }

  @Test
  void aClientThatDisconnectsFreesItsSlot() throws Exception {
    // one compute thread: the abandoned 900-step image holds it until it is cancelled
    start(WorkerOptions.defaults().withBatching(1, 0, 2));
    String body = "{\"model\": \"tiny-ldm\", \"prompt\": \"a red circle\", \"steps\": 900}";
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", openai.port())) {
      byte[] bytes = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
      socket
          .getOutputStream()
          .write(
              ("POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      + "Authorization: Bearer "
                      + TOKEN
                      + "\r\nContent-Type: application/json\r\nContent-Length: "
                      + bytes.length
                      + "\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      socket.getOutputStream().write(bytes);
      socket.getOutputStream().flush();
      // the answer is committed when generation starts and then kept alive with spaces
      java.io.BufferedReader in =
          new java.io.BufferedReader(
              new java.io.InputStreamReader(
                  socket.getInputStream(), java.nio.charset.StandardCharsets.US_ASCII));
      assertEquals("HTTP/1.1 200 OK", in.readLine());
      String line;
      while (!(line = in.readLine()).isEmpty()) {
        assertTrue(!line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length"), line);
      }
      assertEquals("1", in.readLine(), "a one-byte chunk");
      assertEquals(" ", in.readLine(), "holding whitespace");
    }
    // A gRPC request now runs once the abandoned image gave its compute thread back; had the
    // disconnect gone unnoticed, the abandoned image would be counted ok, not cancelled.
    java.util.Iterator<GenerateEvent> events =
        GenerationServiceGrpc.newBlockingStub(grpc)
            .withCallCredentials(new BearerToken(TOKEN))
            .withDeadlineAfter(10, TimeUnit.MINUTES)
            .generate(
                GenerateRequest.newBuilder()
                    .setModel("tiny-ldm")
                    .setPrompt("a blue square")
                    .setSteps(2)
                    .build());
    boolean result = false;
    while (events.hasNext()) {
      result |= events.next().hasResult();
    }
    assertTrue(result, "the gRPC request ran");
    assertEquals(1, server.metrics().requests("cancelled"), "the abandoned image");
  }

  @Test
  void urlDeliveryServesTheWrittenImageToTokenHoldersOnly() throws Exception {
    start(WorkerOptions.defaults());
    HttpResponse<String> response =
        post(
            "/v1/images/generations",
            "{\"model\": \"tiny-ldm\", \"prompt\": \"a red circle\", \"steps\": 2,"
                + " \"response_format\": \"url\"}",
            TOKEN);
    assertEquals(200, response.statusCode(), response.body());
    String url = json(response).at("/data/0/url").asText();
    assertTrue(url.startsWith(base() + "/v1/images/files/"), url);
    HttpResponse<byte[]> image = get(url, TOKEN);
    assertEquals(200, image.statusCode());
    assertEquals("image/png", image.headers().firstValue("Content-Type").orElse(""));
    assertEquals(32, png(image.body()).getWidth());
    assertError(get(url, "guess"), 401, null);
    assertError(get(base() + "/v1/images/files/..%2F..%2Fetc%2Fpasswd", TOKEN), 404, null);
    assertError(get(base() + "/v1/images/files/missing-0.png", TOKEN), 404, null);
  }

  private static File cert(String name) throws Exception {
    return new File(OpenAiImagesTest.class.getResource("/certs/" + name).toURI());
  }

  @Test
  void withTlsTheEndpointIsHttpsWithTheWorkersCertificateAndClientAuth() throws Exception {
    start(
        WorkerOptions.defaults(),
        Optional.of(
            PemTls.serverContext(
                cert("server.pem").toPath(),
                cert("server.key").toPath(),
                Optional.of(cert("ca.pem").toPath()))));
    String url = "https://localhost:" + openai.port() + "/v1/models";
    // the same PEM reading gives a client context: the client certificate, trusting the test CA
    http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .sslContext(
                PemTls.serverContext(
                    cert("client.pem").toPath(),
                    cert("client.key").toPath(),
                    Optional.of(cert("ca.pem").toPath())))
            .build();
    HttpResponse<byte[]> response = get(url, TOKEN);
    assertEquals(200, response.statusCode());
    assertEquals("tiny-ldm", json(response).at("/data/0/id").asText());
    assertError(get(url, "guess"), 401, null);
    assertThrows(
        IOException.class,
        () -> get(url.replace("https:", "http:"), TOKEN),
        "plain HTTP is not served");
    SSLContext trustOnly = SSLContext.getInstance("TLS");
    javax.net.ssl.TrustManagerFactory tmf =
        javax.net.ssl.TrustManagerFactory.getInstance(
            javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
    java.security.KeyStore ca = java.security.KeyStore.getInstance("PKCS12");
    ca.load(null, null);
    try (var in = java.nio.file.Files.newInputStream(cert("ca.pem").toPath())) {
      ca.setCertificateEntry(
          "ca", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    tmf.init(ca);
    trustOnly.init(null, tmf.getTrustManagers(), null);
    http =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(trustOnly).build();
    assertThrows(IOException.class, () -> get(url, TOKEN), "no client certificate, no answer");
  }
}
