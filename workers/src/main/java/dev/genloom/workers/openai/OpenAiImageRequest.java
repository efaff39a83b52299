package dev.genloom.workers.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.genloom.proto.CachePolicyText;
import dev.genloom.proto.v1.CachePolicy;
import dev.genloom.proto.v1.GenerateBatchRequest;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.OutputOptions;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code POST /v1/images/generations} body: OpenAI's {@code model}, {@code prompt}, {@code n},
 * {@code size} and {@code response_format}, plus Genloom's {@code seed}, {@code steps}, {@code
 * guidance_scale}, {@code negative_prompt} and {@code cache} (a cache policy in the command line's
 * text form: {@code auto}, {@code budget:X}, {@code floor:psnr=P}, ...). Any other key, a wrong
 * type or a malformed value is refused with a 400 naming the field. Range checks against the model
 * (sizes, steps) are left to the worker, as for a gRPC request.
 *
 * @param width 0 with {@code height} 0 for the model's default size ({@code size} "auto" or unset)
 * @param seed null for a worker-chosen seed per image; image {@code i} otherwise gets {@code seed +
 *     i}
 * @param steps null for the model's default
 * @param guidanceScale null for the model's default
 * @param cache null for no caching
 */
record OpenAiImageRequest(
    String model,
    String prompt,
    int n,
    int width,
    int height,
    Format format,
    Long seed,
    Integer steps,
    Float guidanceScale,
    String negativePrompt,
    CachePolicy cache) {

  /** How the images come back. */
  enum Format {
    B64_JSON,
    URL
  }

  static final List<String> FIELDS =
      List.of(
          "model",
          "prompt",
          "n",
          "size",
          "response_format",
          "seed",
          "steps",
          "guidance_scale",
          "negative_prompt",
          "cache");

  /** Most images one request may ask for (OpenAI's own limit). */
  static final int MAX_N = 10;

  private static final Pattern SIZE = Pattern.compile("([0-9]{1,5})x([0-9]{1,5})");

  static OpenAiImageRequest parse(JsonNode body) throws OpenAiException {
    if (body == null || !body.isObject()) {
      throw OpenAiException.invalid(null, "invalid_json", "body: must be a JSON object");
    }
    for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!FIELDS.contains(name)) {
        throw OpenAiException.invalid(
            name,
            "unknown_parameter",
            name + ": unknown field; this endpoint takes " + String.join(", ", FIELDS));
      }
    }
    String model = text(body, "model");
    if (model == null || model.isEmpty()) {
      throw OpenAiException.invalid(
          "model", "missing_required_parameter", "model: required (GET /v1/models lists them)");
    }
    String prompt = text(body, "prompt");
    if (prompt == null) {
      throw OpenAiException.invalid("prompt", "missing_required_parameter", "prompt: required");
    }
    Long n = integer(body, "n");
    if (n != null && (n < 1 || n > MAX_N)) {
      throw OpenAiException.invalid(
          "n", "invalid_value", "n: must be in 1.." + MAX_N + ", got " + n);
    }
    int[] size = size(text(body, "size"));
    Long steps = integer(body, "steps");
    if (steps != null && (steps < 1 || steps > Integer.MAX_VALUE)) {
      throw OpenAiException.invalid(
          "steps", "invalid_value", "steps: must be >= 1 (omit it for the model's default)");
    }
    JsonNode guidance = value(body, "guidance_scale");
    if (guidance != null && !guidance.isNumber()) {
      throw wrongType("guidance_scale", "a number", guidance);
    }
    return new OpenAiImageRequest(
        model,
        prompt,
        n == null ? 1 : n.intValue(),
        size[0],
        size[1],
        format(text(body, "response_format")),
        integer(body, "seed"),
        steps == null ? null : steps.intValue(),
        guidance == null ? null : guidance.floatValue(),
        text(body, "negative_prompt"),
        cache(text(body, "cache")));
  }

  private static CachePolicy cache(String text) throws OpenAiException {
    if (text == null) {
      return null;
    }
    try {
      return CachePolicyText.parse(text);
    } catch (IllegalArgumentException e) {
      throw OpenAiException.invalid("cache", "invalid_value", "cache: " + e.getMessage());
    }
  }

  /** The request as one GenerateBatch call: image {@code i} is request {@code id-i}. */
  GenerateBatchRequest toBatch(String id) {
    GenerateBatchRequest.Builder batch = GenerateBatchRequest.newBuilder();
    for (int i = 0; i < n; i++) {
      GenerateRequest.Builder request =
          GenerateRequest.newBuilder()
              .setRequestId(id + "-" + i)
              .setModel(model)
              .setPrompt(prompt)
              .setWidth(width)
              .setHeight(height);
      if (negativePrompt != null) {
        request.setNegativePrompt(negativePrompt);
      }
      if (seed != null) {
        request.setSeed(seed + i);
      }
      if (steps != null) {
        request.setSteps(steps);
      }
      if (guidanceScale != null) {
        request.setGuidanceScale(guidanceScale);
      }
      if (cache != null) {
        request.setCachePolicy(cache);
      }
      if (format == Format.URL) {
        request.setOutput(
            OutputOptions.newBuilder()
                .setDelivery(OutputOptions.Delivery.DELIVERY_URI)
                .setPathPrefix(OpenAiFilesHandler.FOLDER));
      }
      batch.addRequests(request);
    }
    return batch.build();
  }

  private static int[] size(String size) throws OpenAiException {
    if (size == null || size.equals("auto")) {
      return new int[] {0, 0};
    }
    Matcher m = SIZE.matcher(size);
    if (!m.matches()) {
      throw OpenAiException.invalid(
          "size",
          "invalid_value",
          "size: expected WIDTHxHEIGHT such as 512x512, or auto, got '" + printable(size) + "'");
    }
    int width = Integer.parseInt(m.group(1));
    int height = Integer.parseInt(m.group(2));
    if (width == 0 || height == 0) {
      throw OpenAiException.invalid(
          "size", "invalid_value", "size: width and height must be positive, got '" + size + "'");
    }
    return new int[] {width, height};
  }

  private static Format format(String format) throws OpenAiException {
    if (format == null) {
      return Format.B64_JSON;
    }
    Map<String, Format> formats = Map.of("b64_json", Format.B64_JSON, "url", Format.URL);
    Format f = formats.get(format);
    if (f == null) {
      throw OpenAiException.invalid(
          "response_format",
          "invalid_value",
          "response_format: expected b64_json or url, got '" + printable(format) + "'");
    }
    return f;
  }

  /** A field's value; absent and JSON null are both null. */
  private static JsonNode value(JsonNode body, String field) {
    JsonNode node = body.get(field);
    return node == null || node.isNull() ? null : node;
  }

  private static String text(JsonNode body, String field) throws OpenAiException {
    JsonNode node = value(body, field);
    if (node == null) {
      return null;
    }
    if (!node.isTextual()) {
      throw wrongType(field, "a string", node);
    }
    return node.textValue();
  }

  private static Long integer(JsonNode body, String field) throws OpenAiException {
    JsonNode node = value(body, field);
    if (node == null) {
      return null;
    }
    if (!node.isIntegralNumber() || !node.canConvertToLong()) {
      throw wrongType(field, "an integer", node);
    }
    return node.longValue();
  }

  private static OpenAiException wrongType(String field, String expected, JsonNode node) {
    return OpenAiException.invalid(
        field,
        "invalid_type",
        field
            + ": must be "
            + expected
            + ", got "
            + node.getNodeType().name().toLowerCase(java.util.Locale.ROOT));
  }

  private static String printable(String text) {
    String cut = text.length() > 40 ? text.substring(0, 40) + "..." : text;
    return cut.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
