package dev.genloom.generators.sampling;

/** diffusers' {@code prediction_type}: what the model output of a discrete-time scheduler is. */
enum PredictionType {
  EPSILON,
  V,
  SAMPLE;

  /**
   * The config's prediction_type; {@code withSample} says whether the scheduler takes "sample"
   * (Euler also takes its alias "original_sample").
   */
  static PredictionType of(SchedulerConfig.Params p, boolean withSample, boolean withAlias) {
    String type = p.string("prediction_type");
    return switch (type) {
      case "epsilon" -> EPSILON;
      case "v_prediction" -> V;
      case "sample" -> {
        if (!withSample) {
          throw p.refuse("prediction_type", "epsilon, v_prediction");
        }
        yield SAMPLE;
      }
      case "original_sample" -> {
        if (!withAlias) {
          throw p.refuse("prediction_type", "epsilon, v_prediction, sample");
        }
        yield SAMPLE;
      }
      default ->
          throw p.refuse(
              "prediction_type",
              withSample ? "epsilon, v_prediction, sample" : "epsilon, v_prediction");
    };
  }
}
