package dev.genloom.workers.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.proto.v1.GenerateBatchRequest;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.OutputOptions;
import io.grpc.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OpenAiImageRequestTest {
  private static OpenAiImageRequest parse(String json) throws Exception {
    return OpenAiImageRequest.parse(OpenAiHttp.JSON.readTree(json));
  }

  @Test
  void theExtraFieldsBecomeTheWorkersRequestsOnePerImage() throws Exception {
    OpenAiImageRequest request =
        parse(
            "{\"model\": \"m\", \"prompt\": \"p\", \"n\": 3, \"size\": \"64x48\", \"seed\": 10,"
                + " \"steps\": 5, \"guidance_scale\": 2.5, \"negative_prompt\": \"q\","
                + " \"response_format\": \"url\", \"cache\": \"floor:psnr=30\"}");
    GenerateBatchRequest batch = request.toBatch("abc");
    assertEquals(3, batch.getRequestsCount());
    for (int i = 0; i < 3; i++) {
      GenerateRequest r = batch.getRequests(i);
      assertEquals("abc-" + i, r.getRequestId());
      assertEquals("m", r.getModel());
      assertEquals("p", r.getPrompt());
      assertEquals("q", r.getNegativePrompt());
      assertEquals(30.0, r.getCachePolicy().getFloor().getMinPsnrDb());
      assertEquals(64, r.getWidth());
      assertEquals(48, r.getHeight());
      assertEquals(10 + i, r.getSeed());
      assertEquals(5, r.getSteps());
      assertEquals(2.5f, r.getGuidanceScale());
      assertEquals(OutputOptions.Delivery.DELIVERY_URI, r.getOutput().getDelivery());
      assertEquals(OpenAiFilesHandler.FOLDER, r.getOutput().getPathPrefix());
    }
  }

  @Test
  void unsetFieldsLeaveTheModelsDefaults() throws Exception {
    OpenAiImageRequest request = parse("{\"model\": \"m\", \"prompt\": \"p\", \"size\": \"auto\"}");
    assertEquals(1, request.n());
    assertEquals(OpenAiImageRequest.Format.B64_JSON, request.format());
    assertNull(request.seed());
    GenerateRequest r = request.toBatch("x").getRequests(0);
    assertFalse(r.hasSeed());
    assertFalse(r.hasGuidanceScale());
    assertEquals(0, r.getSteps());
    assertEquals(0, r.getWidth());
    assertEquals(OutputOptions.Delivery.DELIVERY_UNSPECIFIED, r.getOutput().getDelivery());
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      value = {
        "{\"model\": \"m\", \"prompt\": \"p\", \"style\": \"vivid\"}|style|unknown_parameter",
        "{\"prompt\": \"p\"}|model|missing_required_parameter",
        "{\"model\": \"m\"}|prompt|missing_required_parameter",
        "{\"model\": \"m\", \"prompt\": \"p\", \"n\": 11}|n|invalid_value",
        "{\"model\": \"m\", \"prompt\": \"p\", \"n\": 0}|n|invalid_value",
        "{\"model\": \"m\", \"prompt\": \"p\", \"n\": \"2\"}|n|invalid_type",
        "{\"model\": \"m\", \"prompt\": \"p\", \"n\": 1.5}|n|invalid_type",
        "{\"model\": \"m\", \"prompt\": \"p\", \"size\": \"512\"}|size|invalid_value",
        "{\"model\": \"m\", \"prompt\": \"p\", \"size\": \"512x512x3\"}|size|invalid_value",
        "{\"model\": \"m\", \"prompt\": \"p\", \"size\": 512}|size|invalid_type",
        "{\"model\": \"m\", \"prompt\": \"p\", \"response_format\": \"png\"}|response_format|invalid_value",
        "{\"model\": \"m\", \"prompt\": \"p\", \"seed\": \"7\"}|seed|invalid_type",
        "{\"model\": \"m\", \"prompt\": \"p\", \"steps\": 0}|steps|invalid_value",
        "{\"model\": \"m\", \"prompt\": \"p\", \"guidance_scale\": \"high\"}|guidance_scale|invalid_type",
        "{\"model\": \"m\", \"prompt\": 5}|prompt|invalid_type",
        "{\"model\": \"m\", \"prompt\": \"p\", \"cache\": \"budget:1\"}|cache|invalid_value",
        "{\"model\": \"m\", \"prompt\": \"p\", \"cache\": \"sometimes\"}|cache|invalid_value",
        "{\"model\": \"m\", \"prompt\": \"p\", \"cache\": 2}|cache|invalid_type"
      })
  void badFieldsAre400sNamingTheField(String json, String param, String code) {
    OpenAiException e = assertThrows(OpenAiException.class, () -> parse(json));
    assertEquals(400, e.status);
    assertEquals(param, e.param);
    assertEquals(code, e.code);
    assertTrue(e.getMessage().startsWith(param + ": "), e.getMessage());
  }

  @Test
  void aBodyThatIsNotAnObjectOrRepeatsAKeyIsRefused() {
    assertThrows(
        OpenAiException.class, () -> OpenAiImageRequest.parse(OpenAiHttp.JSON.readTree("[1]")));
    assertThrows(
        java.io.IOException.class,
        () -> OpenAiHttp.JSON.readTree("{\"n\": 1, \"n\": 2}"),
        "duplicate keys are refused by the reader");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      value = {
        "INVALID_ARGUMENT|width: 64x64 is outside the sizes model 'm' serves|400|size|size: 64x64 is outside the sizes model 'm' serves",
        "INVALID_ARGUMENT|requests[1].steps: must be in 1..1000, got 0|400|steps|steps: must be in 1..1000, got 0",
        "INVALID_ARGUMENT|requests: 3 requests exceed this worker's queue limit of 2; split the batch|400|n|n: 3 images exceed this worker's queue limit of 2; ask for fewer",
        "NOT_FOUND|name: no model 'x' is loaded|404|model|model: no model 'x' is loaded",
        "UNAUTHENTICATED|authorization: invalid token|401||authorization: invalid token",
        "RESOURCE_EXHAUSTED|queue is full (1 requests waiting); retry with backoff|429||queue is full (1 requests waiting); retry with backoff",
        "UNAVAILABLE|models are still loading; retry shortly|503||models are still loading; retry shortly",
        "INTERNAL|generation failed (request r); see the worker log|500||generation failed (request r); see the worker log"
      })
  void grpcStatusesBecomeHttpStatusesAndParams(
      Status.Code code, String description, int status, String param, String message) {
    OpenAiException e = OpenAiErrors.fromStatus(code.toStatus().withDescription(description));
    assertEquals(status, e.status);
    assertEquals(param, e.param);
    assertEquals(message, e.getMessage());
  }
}
