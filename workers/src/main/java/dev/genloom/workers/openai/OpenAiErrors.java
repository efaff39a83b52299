package dev.genloom.workers.openai;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.grpc.Status;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * OpenAI's error object ({@code {"error": {"message", "type", "param", "code"}}}) and the one
 * mapping from the generation service's gRPC status to an HTTP status: INVALID_ARGUMENT is 400
 * naming the field its message starts with, UNAUTHENTICATED 401, NOT_FOUND 404, RESOURCE_EXHAUSTED
 * 429, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, anything else 500.
 */
final class OpenAiErrors {
  static final String INVALID_REQUEST = "invalid_request_error";
  static final String SERVER_ERROR = "server_error";
  static final String RATE_LIMIT = "rate_limit_error";

  /** The worker's field names that an OpenAI request spells differently. */
  private static final Map<String, String> PARAMS =
      Map.of(
          "width", "size",
          "height", "size",
          "aspect_ratio", "size",
          "requests", "n",
          "name", "model");

  private static final Pattern FIELD = Pattern.compile("^(?:requests\\[\\d+]\\.)?([a-z_.]+): ");

  private OpenAiErrors() {}

  static ObjectNode body(OpenAiException e) {
    ObjectNode root = OpenAiHttp.JSON.createObjectNode();
    ObjectNode error = root.putObject("error");
    error.put("message", e.getMessage());
    error.put("type", e.type);
    error.put("param", e.param);
    error.put("code", e.code);
    return root;
  }

  /** The refusal a gRPC status of the generation service stands for. */
  static OpenAiException fromStatus(Status status) {
    String description = status.getDescription() == null ? "" : status.getDescription();
    return switch (status.getCode()) {
      case INVALID_ARGUMENT -> invalidArgument(description);
      case UNAUTHENTICATED ->
          new OpenAiException(401, INVALID_REQUEST, null, "invalid_api_key", description);
      case NOT_FOUND -> {
        OpenAiException e = invalidArgument(description);
        yield new OpenAiException(404, INVALID_REQUEST, e.param, "model_not_found", e.getMessage());
      }
      case RESOURCE_EXHAUSTED ->
          new OpenAiException(429, RATE_LIMIT, null, "queue_full", description);
      case UNAVAILABLE -> new OpenAiException(503, SERVER_ERROR, null, "unavailable", description);
      case DEADLINE_EXCEEDED ->
          new OpenAiException(504, SERVER_ERROR, null, "timeout", description);
      default ->
          new OpenAiException(
              500,
              SERVER_ERROR,
              null,
              "internal_error",
              description.isEmpty() ? "internal error; see the worker log" : description);
    };
  }

  /** A 400 whose param is the field the worker's message names, in the OpenAI request's terms. */
  private static OpenAiException invalidArgument(String description) {
    Matcher m = FIELD.matcher(description);
    if (!m.find()) {
      return OpenAiException.invalid(null, "invalid_value", description);
    }
    String field = m.group(1);
    if (field.equals("request_id") || field.startsWith("output.")) {
      return OpenAiException.invalid(null, "invalid_value", description);
    }
    String param = PARAMS.getOrDefault(field, field);
    String rest = description.substring(m.end());
    if (field.equals("requests")) {
      rest =
          rest.replace("requests exceed", "images exceed")
              .replace("split the batch", "ask for fewer");
    }
    return OpenAiException.invalid(param, "invalid_value", param + ": " + rest);
  }
}
