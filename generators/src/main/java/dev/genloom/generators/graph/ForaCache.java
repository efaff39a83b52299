package dev.genloom.generators.graph;

/**
 * FORA-style static caching: cacheable blocks are recomputed every {@code interval} steps and
 * reused in between (stack blocks reuse their residual, other blocks their outputs). The last step
 * is always computed.
 */
public final class ForaCache implements CachePolicy {
  private final int interval;

  public ForaCache(int interval) {
    if (interval < 1) {
      throw new IllegalArgumentException("cache: fora interval must be >= 1, got " + interval);
    }
    this.interval = interval;
  }

  @Override
  public boolean computeBlock(int step, int totalSteps, int index, GraphBlock block) {
    return step % interval == 0 || step == totalSteps - 1;
  }

  @Override
  public String describe() {
    return "fora:" + interval;
  }
}
