package dev.genloom.generators.sampling;

import dev.genloom.proto.v1.NoiseSchedule;
import dev.genloom.proto.v1.Prediction;
import java.nio.file.Path;

/** Placeholder until the scheduler branch lands. */
public final class SchedulerConfig {
  final NoiseSchedule schedule;
  final Prediction prediction;

  private SchedulerConfig(NoiseSchedule schedule, Prediction prediction) {
    this.schedule = schedule;
    this.prediction = prediction;
  }

  public static SchedulerConfig read(Path file) {
    throw new UnsupportedOperationException("scheduler config files need the scheduler branch");
  }

  public static SchedulerConfig fromNoiseSchedule(NoiseSchedule schedule, Prediction prediction) {
    return new SchedulerConfig(schedule, prediction);
  }

  public Prediction prediction(SamplerKind kind) {
    return prediction;
  }

  public boolean isFlowMatching() {
    return false;
  }

  public int numTrainTimesteps() {
    return schedule.getNumTrainTimesteps();
  }
}
