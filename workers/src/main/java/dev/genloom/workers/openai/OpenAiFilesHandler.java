package dev.genloom.workers.openai;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.ListModelsRequest;
import io.grpc.Channel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * {@code GET /v1/images/files/NAME}: an image that {@code response_format: "url"} wrote. Images go
 * to the fixed folder {@value #FOLDER} under the worker's output root, named by the worker (the
 * request's id and the image's index); a request never chooses the path. A name of any other form,
 * or one that resolves outside that folder, is 404. The caller needs the worker's bearer token.
 */
final class OpenAiFilesHandler implements HttpHandler {
  /** The folder under the output root that URL delivery writes into. */
  static final String FOLDER = "openai";

  static final String PATH = "/v1/images/files/";

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9-]{1,100}\\.png");

  private final Channel worker;
  private final Optional<Path> outputRoot;

  OpenAiFilesHandler(Channel worker, Optional<Path> outputRoot) {
    this.worker = worker;
    this.outputRoot = outputRoot;
  }

  @Override
  public void handle(HttpExchange exchange) {
    try {
      OpenAiHttp.requireMethod(exchange, "GET");
      authenticate(exchange);
      Path file = find(exchange.getRequestURI().getPath().substring(PATH.length()));
      OpenAiHttp.send(exchange, 200, "image/png", Files.readAllBytes(file));
    } catch (OpenAiException e) {
      OpenAiHttp.sendError(exchange, e);
    } catch (IOException e) {
      OpenAiHttp.sendError(exchange, notFound());
    }
  }

  /** The worker's token check, through a ListModels call that carries the caller's header. */
  private void authenticate(HttpExchange exchange) throws OpenAiException {
    try {
      GenerationServiceGrpc.newBlockingStub(worker)
          .withInterceptors(
              MetadataUtils.newAttachHeadersInterceptor(OpenAiHttp.credentials(exchange)))
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .listModels(ListModelsRequest.getDefaultInstance());
    } catch (StatusRuntimeException e) {
      throw OpenAiErrors.fromStatus(e.getStatus());
    }
  }

  private Path find(String name) throws OpenAiException, IOException {
    if (outputRoot.isEmpty() || !NAME.matcher(name).matches()) {
      throw notFound();
    }
    Path folder = outputRoot.get().toRealPath().resolve(FOLDER);
    Path real = folder.resolve(name).toRealPath();
    if (!real.startsWith(folder.toRealPath()) || !Files.isRegularFile(real)) {
      throw notFound();
    }
    return real;
  }

  private static OpenAiException notFound() {
    return new OpenAiException(
        404, OpenAiErrors.INVALID_REQUEST, null, "not_found", "no such image on this worker");
  }
}
