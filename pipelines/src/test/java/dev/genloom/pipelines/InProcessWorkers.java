package dev.genloom.pipelines;

import io.grpc.BindableService;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * In-process gRPC servers, each serving one service, and a channel to each, all on direct
 * executors; a JUnit extension that shuts them down after each test.
 */
final class InProcessWorkers implements AfterEachCallback {
  private final List<Server> servers = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();

  /** Starts a server for {@code service}; returns a channel to it. */
  Channel start(BindableService service) throws IOException {
    String name = InProcessServerBuilder.generateName();
    servers.add(
        InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start());
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    channels.add(channel);
    return channel;
  }

  @Override
  public void afterEach(ExtensionContext context) {
    channels.forEach(ManagedChannel::shutdownNow);
    servers.forEach(Server::shutdownNow);
    channels.clear();
    servers.clear();
  }
}
