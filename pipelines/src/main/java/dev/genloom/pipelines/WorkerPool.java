package dev.genloom.pipelines;

import io.grpc.CallCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One gRPC channel per worker address, shared by every DoFn instance in the JVM. Calls go
 * round-robin over the addresses; a worker that just failed with UNAVAILABLE sits out for a
 * cool-down while others are available. Inside one address, the channel balances round-robin over
 * every IP the name resolves to (a Kubernetes headless Service gives one per pod), with gRPC
 * client-side health checking, so one name spreads load over the whole fleet.
 */
final class WorkerPool {
  private static final Map<String, WorkerPool> POOLS = new ConcurrentHashMap<>();
  private static final long COOL_DOWN_NANOS = 2_000_000_000L;

  private final List<String> addresses;
  private final List<ManagedChannel> channels;
  private final AtomicLongArray downUntil;
  private final AtomicInteger next = new AtomicInteger();

  private final CallCredentials callCredentials;

  private WorkerPool(List<String> addresses, WorkerSecurity security) {
    this.addresses = List.copyOf(addresses);
    this.channels = new ArrayList<>();
    for (String address : addresses) {
      channels.add(
          Grpc.newChannelBuilder(address, security.channelCredentials())
              .defaultServiceConfig(SERVICE_CONFIG)
              .maxInboundMessageSize(64 << 20)
              .build());
    }
    this.downUntil = new AtomicLongArray(addresses.size());
    this.callCredentials = security.callCredentials();
  }

  /** Round-robin over the resolved addresses, skipping those whose gRPC health is not SERVING. */
  private static final Map<String, Object> SERVICE_CONFIG =
      Map.of(
          "loadBalancingConfig",
          List.of(Map.of("round_robin", Map.of())),
          "healthCheckConfig",
          Map.of("serviceName", ""));

  /** The pool for a comma-separated address list and security (created once per JVM). */
  static WorkerPool forAddresses(String workers, WorkerSecurity security) {
    return POOLS.computeIfAbsent(
        workers.strip() + "|" + security, w -> new WorkerPool(parse(workers), security));
  }

  /** Bearer-token credentials for every call, or null. */
  CallCredentials callCredentials() {
    return callCredentials;
  }

  static List<String> parse(String workers) {
    List<String> out = new ArrayList<>();
    for (String part : workers.split(",")) {
      String address = part.strip();
      if (address.isEmpty()) {
        continue;
      }
      int colon = address.lastIndexOf(':');
      if (colon <= 0 || colon == address.length() - 1) {
        throw new IllegalArgumentException("workers: '" + address + "' is not host:port");
      }
      out.add(address);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("workers: at least one host:port is required");
    }
    return out;
  }

  /** Index of the next worker to try, preferring ones not cooling down. */
  int pick() {
    int n = addresses.size();
    long now = System.nanoTime();
    for (int i = 0; i < n; i++) {
      int candidate = Math.floorMod(next.getAndIncrement(), n);
      if (downUntil.get(candidate) - now <= 0) {
        return candidate;
      }
    }
    return Math.floorMod(next.getAndIncrement(), n);
  }

  void markDown(int index) {
    downUntil.set(index, System.nanoTime() + COOL_DOWN_NANOS);
  }

  ManagedChannel channel(int index) {
    return channels.get(index);
  }

  String address(int index) {
    return addresses.get(index);
  }
}
