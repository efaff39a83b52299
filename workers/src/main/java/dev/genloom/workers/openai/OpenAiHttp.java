package dev.genloom.workers.openai;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.sun.net.httpserver.HttpExchange;
import io.grpc.Metadata;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reading requests and writing JSON answers on a JDK {@link HttpExchange}. */
final class OpenAiHttp {
  private static final Logger LOG = LoggerFactory.getLogger(OpenAiHttp.class);

  /** Largest request body read: a prompt is a few thousand characters at most. */
  static final int MAX_BODY_BYTES = 1 << 20;

  static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .build();

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private OpenAiHttp() {}

  /** Refuses any method but {@code method} with 405. */
  static void requireMethod(HttpExchange exchange, String method) throws OpenAiException {
    if (!exchange.getRequestMethod().equalsIgnoreCase(method)) {
      exchange.getResponseHeaders().set("Allow", method);
      throw new OpenAiException(
          405,
          OpenAiErrors.INVALID_REQUEST,
          null,
          "method_not_allowed",
          exchange.getRequestMethod()
              + " "
              + exchange.getRequestURI().getPath()
              + ": not allowed; use "
              + method);
    }
  }

  /** The request body as a JSON tree; 413 past {@link #MAX_BODY_BYTES}, 400 when not JSON. */
  static JsonNode readJson(HttpExchange exchange) throws IOException, OpenAiException {
    byte[] body;
    try (InputStream in = exchange.getRequestBody()) {
      body = in.readNBytes(MAX_BODY_BYTES + 1);
    }
    if (body.length > MAX_BODY_BYTES) {
      throw new OpenAiException(
          413,
          OpenAiErrors.INVALID_REQUEST,
          null,
          "request_too_large",
          "body: larger than " + MAX_BODY_BYTES + " bytes");
    }
    if (body.length == 0) {
      throw OpenAiException.invalid(null, "invalid_json", "body: empty; send a JSON object");
    }
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      String reason = e.getMessage() == null ? "" : e.getMessage().lines().findFirst().orElse("");
      throw OpenAiException.invalid(null, "invalid_json", "body: not valid JSON (" + reason + ")");
    }
  }

  /**
   * The HTTP {@code Authorization} header as gRPC metadata, for the worker's token check. A value
   * that is not printable ASCII is passed with those characters replaced, so it is refused as a
   * wrong token rather than as a missing one.
   */
  static Metadata credentials(HttpExchange exchange) {
    Metadata headers = new Metadata();
    String value = exchange.getRequestHeaders().getFirst("Authorization");
    if (value != null) {
      headers.put(AUTHORIZATION, value.replaceAll("[^\\x20-\\x7e]", "?"));
    }
    return headers;
  }

  static void sendJson(HttpExchange exchange, int status, JsonNode body) {
    try {
      send(exchange, status, "application/json", JSON.writeValueAsBytes(body));
    } catch (IOException e) {
      LOG.debug("could not encode a response", e);
      exchange.close();
    }
  }

  static void sendError(HttpExchange exchange, OpenAiException e) {
    if (e.status == 429 || e.status == 503) {
      exchange.getResponseHeaders().set("Retry-After", "1");
    }
    sendJson(exchange, e.status, OpenAiErrors.body(e));
  }

  /** Writes a whole response and ends the exchange; a client that went away is only logged. */
  static void send(HttpExchange exchange, int status, String contentType, byte[] body) {
    try {
      exchange.getResponseHeaders().set("Content-Type", contentType);
      exchange.sendResponseHeaders(status, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    } catch (IOException e) {
      LOG.info(
          "{} {}: the client went away before the answer ({})",
          exchange.getRequestMethod(),
          exchange.getRequestURI().getPath(),
          e.getMessage());
    } finally {
      exchange.close();
    }
  }
}
