package dev.genloom.workers.openai;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.GetModelRequest;
import dev.genloom.proto.v1.ListModelsRequest;
import dev.genloom.proto.v1.ModelSummary;
import io.grpc.Channel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.util.concurrent.TimeUnit;

/**
 * {@code GET /v1/models} (OpenAI's list shape) and {@code GET /v1/models/ID}, from the worker's
 * ListModels and GetModel. {@code created} is when this endpoint started: packages carry no date.
 */
final class OpenAiModelsHandler implements HttpHandler {
  static final String PATH = "/v1/models";

  private final Channel worker;
  private final long created;

  OpenAiModelsHandler(Channel worker, long createdEpochSeconds) {
    this.worker = worker;
    this.created = createdEpochSeconds;
  }

  @Override
  public void handle(HttpExchange exchange) {
    try {
      OpenAiHttp.requireMethod(exchange, "GET");
      String path = exchange.getRequestURI().getPath();
      var stub =
          GenerationServiceGrpc.newBlockingStub(worker)
              .withInterceptors(
                  MetadataUtils.newAttachHeadersInterceptor(OpenAiHttp.credentials(exchange)))
              .withDeadlineAfter(30, TimeUnit.SECONDS);
      if (path.equals(PATH) || path.equals(PATH + "/")) {
        ObjectNode list = OpenAiHttp.JSON.createObjectNode().put("object", "list");
        ArrayNode data = list.putArray("data");
        for (ModelSummary model :
            stub.listModels(ListModelsRequest.getDefaultInstance()).getModelsList()) {
          data.add(model(model.getName()));
        }
        OpenAiHttp.sendJson(exchange, 200, list);
      } else if (path.startsWith(PATH + "/")) {
        String name = path.substring(PATH.length() + 1);
        String found =
            stub.getModel(GetModelRequest.newBuilder().setName(name).build())
                .getSummary()
                .getName();
        OpenAiHttp.sendJson(exchange, 200, model(found));
      } else {
        throw OpenAiServer.noSuchEndpoint(exchange);
      }
    } catch (OpenAiException e) {
      OpenAiHttp.sendError(exchange, e);
    } catch (StatusRuntimeException e) {
      OpenAiHttp.sendError(exchange, OpenAiErrors.fromStatus(e.getStatus()));
    }
  }

  private ObjectNode model(String name) {
    return OpenAiHttp.JSON
        .createObjectNode()
        .put("id", name)
        .put("object", "model")
        .put("created", created)
        .put("owned_by", "genloom");
  }
}
