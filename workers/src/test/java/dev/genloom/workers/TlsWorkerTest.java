package dev.genloom.workers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.generators.ModelRepository;
import dev.genloom.proto.v1.GenerateEvent;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GenerationServiceGrpc;
import dev.genloom.proto.v1.ListModelsRequest;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The worker over a real loopback socket with mutual TLS and bearer-token auth. */
class TlsWorkerTest {
  private static final String TOKEN = "s3cret-test-token";
  @TempDir Path temp;
  private WorkerServer server;
  private final List<ManagedChannel> channels = new ArrayList<>();

  private static File cert(String name) throws Exception {
    return new File(TlsWorkerTest.class.getResource("/certs/" + name).toURI());
  }

  @BeforeEach
  void start() throws Exception {
    TlsServerCredentials credentials =
        (TlsServerCredentials)
            TlsServerCredentials.newBuilder()
                .keyManager(cert("server.pem"), cert("server.key"))
                .trustManager(cert("ca.pem"))
                .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE)
                .build();
    server =
        WorkerServer.start(
            Grpc.newServerBuilderForPort(0, credentials),
            ModelRepository.scan(ShippedModels.folder(temp, "tiny-ldm")),
            WorkerOptions.defaults(),
            new WorkerMetrics(),
            List.of(new TokenAuthInterceptor(TOKEN)));
    server.ready().get(120, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    server.close();
  }

  private ManagedChannel channel(boolean clientCertificate) throws Exception {
    TlsChannelCredentials.Builder tls =
        TlsChannelCredentials.newBuilder().trustManager(cert("ca.pem"));
    if (clientCertificate) {
      tls.keyManager(cert("client.pem"), cert("client.key"));
    }
    ChannelCredentials credentials = tls.build();
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress("localhost", server.port(), credentials).build();
    channels.add(channel);
    return channel;
  }

  @Test
  void authenticatedClientGeneratesOverMutualTls() throws Exception {
    var stub =
        GenerationServiceGrpc.newBlockingStub(channel(true))
            .withCallCredentials(new BearerToken(TOKEN))
            .withDeadlineAfter(120, TimeUnit.SECONDS);
    assertEquals(1, stub.listModels(ListModelsRequest.getDefaultInstance()).getModelsCount());
    List<GenerateEvent> events = new ArrayList<>();
    stub.generate(
            GenerateRequest.newBuilder()
                .setModel("tiny-ldm")
                .setPrompt("a red circle on a blue background")
                .setSteps(2)
                .build())
        .forEachRemaining(events::add);
    assertTrue(events.get(events.size() - 1).hasResult());
  }

  @Test
  void missingOrWrongTokenIsUnauthenticatedButHealthStaysOpen() throws Exception {
    ManagedChannel channel = channel(true);
    StatusRuntimeException missing =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                GenerationServiceGrpc.newBlockingStub(channel)
                    .listModels(ListModelsRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAUTHENTICATED, missing.getStatus().getCode());
    StatusRuntimeException wrong =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                GenerationServiceGrpc.newBlockingStub(channel)
                    .withCallCredentials(new BearerToken("guess"))
                    .listModels(ListModelsRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAUTHENTICATED, wrong.getStatus().getCode());
    assertEquals(
        ServingStatus.SERVING,
        HealthGrpc.newBlockingStub(channel)
            .check(HealthCheckRequest.getDefaultInstance())
            .getStatus());
  }

  @Test
  void clientWithoutCertificateIsRefused() throws Exception {
    ManagedChannel channel = channel(false);
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                GenerationServiceGrpc.newBlockingStub(channel)
                    .withCallCredentials(new BearerToken(TOKEN))
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .listModels(ListModelsRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
  }
}
