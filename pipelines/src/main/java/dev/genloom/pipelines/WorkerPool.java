package dev.genloom.pipelines;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One gRPC channel per worker address, shared by every DoFn instance in the JVM. Calls go
 * round-robin; a worker that just failed with UNAVAILABLE sits out for a cool-down while others are
 * available.
 */
final class WorkerPool {
  private static final Map<String, WorkerPool> POOLS = new ConcurrentHashMap<>();
  private static final long COOL_DOWN_NANOS = 2_000_000_000L;

  private final List<String> addresses;
  private final List<ManagedChannel> channels;
  private final AtomicLongArray downUntil;
  private final AtomicInteger next = new AtomicInteger();

  private WorkerPool(List<String> addresses) {
    this.addresses = List.copyOf(addresses);
    this.channels = new ArrayList<>();
    for (String address : addresses) {
      channels.add(
          Grpc.newChannelBuilder(address, InsecureChannelCredentials.create())
              .maxInboundMessageSize(64 << 20)
              .build());
    }
    this.downUntil = new AtomicLongArray(addresses.size());
  }

  /** The pool for a comma-separated address list (created once per JVM). */
  static WorkerPool forAddresses(String workers) {
    return POOLS.computeIfAbsent(workers.strip(), w -> new WorkerPool(parse(w)));
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
