package dev.genloom.generators.graph;

/**
 * Forecasting cache (TaylorSeer-style): cacheable blocks are computed every {@code interval} steps
 * and at the last step; at the steps between, a block's output (its residual, in a residual stack)
 * is extrapolated from its last computed ones by first- or second-order divided differences over
 * their step indices, rather than reused. Until a block has order + 1 computed outputs it uses as
 * many as it has (a single one is reused). The history is kept per executor, so per item and per
 * guidance branch ({@link LaneExecutor}).
 */
public final class ForecastCache implements CachePolicy {
  private final int interval;
  private final int order;

  public ForecastCache(int interval, int order) {
    if (interval < 1) {
      throw new IllegalArgumentException("cache: forecast interval must be >= 1, got " + interval);
    }
    if (order < 1 || order > 2) {
      throw new IllegalArgumentException("cache: forecast order must be 1 or 2, got " + order);
    }
    this.interval = interval;
    this.order = order;
  }

  @Override
  public boolean computeBlock(int step, int totalSteps, int index, GraphBlock block) {
    return step % interval == 0 || step == totalSteps - 1;
  }

  @Override
  public int forecastOrder() {
    return order;
  }

  @Override
  public String describe() {
    return "forecast:" + interval + (order == 2 ? "" : ":" + order);
  }
}
