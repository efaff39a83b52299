package dev.genloom.pipelines;

import io.grpc.CallCredentials;
import io.grpc.Channel;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One gRPC channel per worker address, shared by every DoFn instance in the JVM, and the one place
 * where dispatch decides which worker gets work. A batch goes to the worker with the least work
 * ahead ({@link #pickLeastLoaded}): the calls this JVM has outstanding on it, or the queue the
 * worker itself last reported in a Queued event when that is larger (other clients share it), so a
 * worker that finishes faster is picked again sooner; ties rotate. A worker that just failed with
 * UNAVAILABLE sits out a cool-down while others are available, then ramps back in (it has nothing
 * outstanding, so it is picked first). A retried item goes alone to another worker ({@link
 * #pickOther}). Inside one address, the channel balances round-robin over every IP the name
 * resolves to (a Kubernetes headless Service gives one per pod), with gRPC client-side health
 * checking.
 */
final class WorkerPool {
  private static final Map<String, WorkerPool> POOLS = new ConcurrentHashMap<>();
  private static final long COOL_DOWN_NANOS = 2_000_000_000L;
  private static final long REPORT_VALID_NANOS = 1_000_000_000L;

  private final List<String> addresses;
  private final List<Channel> channels;
  private final AtomicLongArray downUntil;
  private final AtomicIntegerArray outstanding;
  private final AtomicInteger next = new AtomicInteger();
  // the latest Queued position each worker reported, and until when it counts
  private final AtomicIntegerArray reportedQueue;
  private final AtomicLongArray reportedUntil;
  // workers that answered GenerateBatch with UNIMPLEMENTED
  private final AtomicIntegerArray noBatches;

  private final CallCredentials callCredentials;

  private WorkerPool(
      List<String> addresses, List<? extends Channel> channels, CallCredentials callCredentials) {
    if (addresses.size() != channels.size() || addresses.isEmpty()) {
      throw new IllegalArgumentException(
          "workers: one channel per address, at least one; got "
              + addresses.size()
              + " addresses and "
              + channels.size()
              + " channels");
    }
    this.addresses = List.copyOf(addresses);
    this.channels = List.copyOf(channels);
    this.downUntil = new AtomicLongArray(addresses.size());
    this.outstanding = new AtomicIntegerArray(addresses.size());
    this.reportedQueue = new AtomicIntegerArray(addresses.size());
    this.reportedUntil = new AtomicLongArray(addresses.size());
    this.noBatches = new AtomicIntegerArray(addresses.size());
    this.callCredentials = callCredentials;
  }

  private static WorkerPool dial(List<String> addresses, WorkerSecurity security) {
    List<ManagedChannel> channels = new ArrayList<>();
    for (String address : addresses) {
      channels.add(
          Grpc.newChannelBuilder(address, security.channelCredentials())
              .defaultServiceConfig(SERVICE_CONFIG)
              .maxInboundMessageSize(64 << 20)
              .build());
    }
    return new WorkerPool(addresses, channels, security.callCredentials());
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
        workers.strip() + "|" + security, w -> dial(parse(workers), security));
  }

  /**
   * A pool over channels the caller made and closes, {@code names.get(i)} naming {@code
   * channels.get(i)} in records; no call credentials. Not shared: each call gives a new pool.
   */
  static WorkerPool over(List<String> names, List<? extends Channel> channels) {
    return new WorkerPool(names, channels, null);
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

  /**
   * The worker with the fewest outstanding calls among those not cooling down (all of them when
   * every one is), ties broken by rotation.
   */
  int pickLeastLoaded() {
    return leastLoaded(-1);
  }

  /** As {@link #pickLeastLoaded}, avoiding {@code failed} when another worker exists. */
  int pickOther(int failed) {
    return leastLoaded(addresses.size() > 1 ? failed : -1);
  }

  private int leastLoaded(int avoid) {
    int n = addresses.size();
    long now = System.nanoTime();
    int start = Math.floorMod(next.getAndIncrement(), n);
    int best = -1;
    int bestLoad = Integer.MAX_VALUE;
    boolean bestUp = false;
    for (int k = 0; k < n; k++) {
      int i = (start + k) % n;
      if (i == avoid) {
        continue;
      }
      boolean up = downUntil.get(i) - now <= 0;
      int load = load(i, now);
      if ((up && !bestUp) || (up == bestUp && load < bestLoad)) {
        best = i;
        bestLoad = load;
        bestUp = up;
      }
    }
    return best < 0 ? start : best;
  }

  /**
   * The work ahead of a new call on worker {@code index}: this JVM's outstanding calls there, or
   * the queue the worker last reported (which also holds other clients' requests) when that is
   * larger and recent.
   */
  private int load(int index, long now) {
    int own = outstanding.get(index);
    if (reportedUntil.get(index) - now > 0) {
      return Math.max(own, reportedQueue.get(index) + 1);
    }
    return own;
  }

  /** Worker {@code index} reported {@code position} requests ahead of a call just queued. */
  void queued(int index, int position) {
    reportedQueue.set(index, position);
    reportedUntil.set(index, System.nanoTime() + REPORT_VALID_NANOS);
  }

  /** Whether worker {@code index} is still thought to serve GenerateBatch. */
  boolean takesBatches(int index) {
    return noBatches.get(index) == 0;
  }

  /** Worker {@code index} answered GenerateBatch with UNIMPLEMENTED. */
  void refusesBatches(int index) {
    noBatches.set(index, 1);
  }

  /** Counts {@code calls} more outstanding on worker {@code index}. */
  void begin(int index, int calls) {
    outstanding.addAndGet(index, calls);
  }

  /** One outstanding call on worker {@code index} ended. */
  void end(int index) {
    outstanding.decrementAndGet(index);
  }

  int outstanding(int index) {
    return outstanding.get(index);
  }

  void markDown(int index) {
    downUntil.set(index, System.nanoTime() + COOL_DOWN_NANOS);
  }

  int size() {
    return addresses.size();
  }

  Channel channel(int index) {
    return channels.get(index);
  }

  String address(int index) {
    return addresses.get(index);
  }
}
