package dev.genloom.workers;

import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.GetModelRequest;
import dev.genloom.proto.v1.GetModelResponse;
import dev.genloom.proto.v1.ListModelsRequest;
import dev.genloom.proto.v1.ListModelsResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;

/**
 * {@code genloom.v1.GenerationService}: model listing over the loaded packages. Generation is
 * answered with UNIMPLEMENTED until the generator runtime is wired in.
 */
public final class GenerationService extends GenerationServiceGrpc.GenerationServiceImplBase {
  private final ModelCatalog catalog;

  public GenerationService(ModelRepository repository) {
    this.catalog = new ModelCatalog(repository);
  }

  @Override
  public void listModels(
      ListModelsRequest request, StreamObserver<ListModelsResponse> responseObserver) {
    responseObserver.onNext(catalog.list());
    responseObserver.onCompleted();
  }

  @Override
  public void getModel(GetModelRequest request, StreamObserver<GetModelResponse> responseObserver) {
    if (request.getName().isEmpty()) {
      responseObserver.onError(
          Status.INVALID_ARGUMENT.withDescription("name: must name a model").asRuntimeException());
      return;
    }
    catalog
        .get(request.getName())
        .ifPresentOrElse(
            response -> {
              responseObserver.onNext(response);
              responseObserver.onCompleted();
            },
            () ->
                responseObserver.onError(
                    Status.NOT_FOUND
                        .withDescription("name: no model '" + request.getName() + "' is loaded")
                        .asRuntimeException()));
  }

  @Override
  public void generate(GenerateRequest request, StreamObserver<GenerateEvent> responseObserver) {
    responseObserver.onError(
        Status.UNIMPLEMENTED
            .withDescription("generation is not available in this worker build yet")
            .asRuntimeException());
  }
}
