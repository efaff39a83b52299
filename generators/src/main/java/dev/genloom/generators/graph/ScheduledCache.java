package dev.genloom.generators.graph;

import dev.genloom.proto.v1.CacheSchedule;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Block caching with a calibrated schedule (Wimbauer et al., CVPR 2024): each block follows its
 * stored per-step compute mask; blocks without a mask are always computed.
 */
public final class ScheduledCache implements CachePolicy {
  private final Map<String, List<Boolean>> masks = new HashMap<>();
  private final CacheSchedule schedule;

  public ScheduledCache(CacheSchedule schedule) {
    this.schedule = schedule;
    for (CacheSchedule.BlockSchedule block : schedule.getBlocksList()) {
      if (block.getComputeCount() != schedule.getSteps()) {
        throw new IllegalArgumentException(
            "cache schedule for block '"
                + block.getBlock()
                + "' has "
                + block.getComputeCount()
                + " entries for "
                + schedule.getSteps()
                + " steps");
      }
      masks.put(block.getBlock(), block.getComputeList());
    }
  }

  @Override
  public boolean computeBlock(int step, int totalSteps, int index, GraphBlock block) {
    if (totalSteps != schedule.getSteps()) {
      throw new IllegalStateException(
          "cache schedule is for " + schedule.getSteps() + " steps, run has " + totalSteps);
    }
    List<Boolean> mask = masks.get(block.name());
    return mask == null || mask.get(step);
  }

  @Override
  public String describe() {
    return "auto("
        + schedule.getSampler()
        + "/"
        + schedule.getSteps()
        + ", delta="
        + schedule.getDelta()
        + ")";
  }
}
