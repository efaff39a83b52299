package dev.genloom.workers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.GetModelRequest;
import dev.genloom.proto.v1.ListModelsRequest;
import dev.genloom.proto.v1.ModelKind;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkerServerTest {
  @TempDir Path models;
  private WorkerServer server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    Path pkg = Files.createDirectories(models.resolve("feat"));
    Files.writeString(
        pkg.resolve("manifest.json"),
        "{\"format\":\"genloom/v1\",\"name\":\"feat\",\"kind\":\"MODEL_KIND_FEATURES\","
            + "\"description\":\"test features\"}");
    String name = InProcessServerBuilder.generateName();
    server =
        WorkerServer.start(
            InProcessServerBuilder.forName(name).directExecutor(), ModelRepository.scan(models));
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
  }

  @Test
  void listsAndDescribesLoadedModels() {
    GenerationServiceGrpc.GenerationServiceBlockingStub stub =
        GenerationServiceGrpc.newBlockingStub(channel);
    var models = stub.listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
    assertEquals(1, models.size());
    assertEquals("feat", models.get(0).getName());
    assertEquals(ModelKind.MODEL_KIND_FEATURES, models.get(0).getKind());
    assertEquals(
        "test features",
        stub.getModel(GetModelRequest.newBuilder().setName("feat").build())
            .getSummary()
            .getDescription());
  }

  @Test
  void unknownModelIsNotFoundNamingTheField() {
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                GenerationServiceGrpc.newBlockingStub(channel)
                    .getModel(GetModelRequest.newBuilder().setName("nope").build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith("name:"));
  }

  @Test
  void healthIsServingAfterStart() {
    assertEquals(
        ServingStatus.SERVING,
        HealthGrpc.newBlockingStub(channel)
            .check(
                HealthCheckRequest.newBuilder().setService("genloom.v1.GenerationService").build())
            .getStatus());
  }

  @Test
  void generateSaysPlainlyItIsNotAvailable() {
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                GenerationServiceGrpc.newBlockingStub(channel)
                    .generate(GenerateRequest.newBuilder().setModel("feat").build())
                    .hasNext());
    assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode());
  }
}
