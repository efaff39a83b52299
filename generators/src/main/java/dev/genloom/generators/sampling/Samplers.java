package dev.genloom.generators.sampling;

/** Placeholder until the scheduler branch lands. */
public final class Samplers {
  private Samplers() {}

  public static Sampler create(SamplerKind kind, SchedulerConfig config, int steps, double eta) {
    DiffusionSchedule schedule = DiffusionSchedule.of(config.schedule);
    return switch (kind) {
      case DDIM -> new DdimSampler(schedule, steps, eta);
      case DPMPP_2M -> new DpmSolverPlusPlus2M(schedule, steps);
      default -> throw new IllegalArgumentException("sampler: " + kind + " not yet");
    };
  }

  public static void check(SamplerKind kind, SchedulerConfig config) {
    if (kind != SamplerKind.DDIM && kind != SamplerKind.DPMPP_2M) {
      throw new IllegalArgumentException("sampler: " + kind.wireName() + " not yet");
    }
  }
}
