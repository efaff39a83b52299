package dev.genloom.generators.sampling;

/**
 * The one place a sampler is created: from a {@link SamplerKind} and a diffusers scheduler config,
 * as {@code <Scheduler>.from_config(config)} followed by {@code set_timesteps(steps)} would build
 * it in diffusers 0.30.3. ddim builds {@code DDIMScheduler}, dpmpp2m {@code
 * DPMSolverMultistepScheduler}, euler {@code EulerDiscreteScheduler} (or {@code
 * FlowMatchEulerDiscreteScheduler} on a flow-matching config), euler_a {@code
 * EulerAncestralDiscreteScheduler}; on a config written for CogVideoX's schedulers ddim builds
 * {@code CogVideoXDDIMScheduler} and dpmpp2m {@code CogVideoXDPMScheduler}. A key or value Genloom
 * does not implement is refused with an {@link IllegalArgumentException} naming it.
 */
public final class Samplers {
  private Samplers() {}

  /**
   * Creates a sampler for {@code steps} steps. {@code eta} is DDIM's (the others take none and, as
   * in diffusers' pipelines, ignore it).
   */
  public static Sampler create(SamplerKind kind, SchedulerConfig config, int steps, double eta) {
    return create(kind, config, steps, eta, Double.NaN);
  }

  /**
   * As {@link #create(SamplerKind, SchedulerConfig, int, double)}, with the {@code mu} a
   * flow-matching config with use_dynamic_shifting needs (diffusers' {@code set_timesteps(mu=)};
   * the pipeline computes it from the image sequence length). NaN means none.
   */
  public static Sampler create(
      SamplerKind kind, SchedulerConfig config, int steps, double eta, double mu) {
    if (!(eta >= 0) || !Double.isFinite(eta)) {
      throw new IllegalArgumentException("eta: must be a finite value >= 0, got " + eta);
    }
    String cls = schedulerClass(kind, config);
    SchedulerConfig.Params p = config.params(cls);
    return switch (cls) {
      case SchedulerConfig.DDIM -> new DdimSampler(p, steps, eta);
      case SchedulerConfig.DPM -> new DpmSolverMultistep(p, steps);
      case SchedulerConfig.EULER -> EulerDiscrete.of(p, steps);
      case SchedulerConfig.EULER_ANCESTRAL -> EulerAncestralDiscrete.of(p, steps);
      case SchedulerConfig.COGVIDEOX_DDIM -> new CogVideoXDdim(p, steps, eta);
      case SchedulerConfig.COGVIDEOX_DPM -> new CogVideoXDpm(p, steps);
      default -> new FlowMatchEulerDiscrete(p, steps, mu);
    };
  }

  /**
   * As FluxPipeline (diffusers 0.30.3) builds its schedule for an image of {@code imageSeqLen}
   * packed latent tokens: a flow-matching config gets the inference sigmas {@code linspace(1, 1 /
   * N, N)} and, with use_dynamic_shifting, the mu of {@link #flowShift} for that sequence length.
   * Other samplers are built as {@link #create(SamplerKind, SchedulerConfig, int, double)} builds
   * them.
   */
  public static Sampler createForImageSequence(
      SamplerKind kind, SchedulerConfig config, int steps, double eta, long imageSeqLen) {
    if (imageSeqLen < 1) {
      throw new IllegalArgumentException(
          "the image sequence length must be positive, got " + imageSeqLen);
    }
    if (!schedulerClass(kind, config).equals(SchedulerConfig.FLOW_MATCH)) {
      return create(kind, config, steps, eta);
    }
    SchedulerConfig.Params p = config.params(SchedulerConfig.FLOW_MATCH);
    double mu = p.bool("use_dynamic_shifting") ? flowShift(p, imageSeqLen) : Double.NaN;
    return new FlowMatchEulerDiscrete(p, steps, mu, true);
  }

  /**
   * FluxPipeline's {@code calculate_shift}: mu linear in the image sequence length, from {@code
   * base_shift} at {@code base_image_seq_len} to {@code max_shift} at {@code max_image_seq_len}.
   */
  static double flowShift(SchedulerConfig.Params p, long imageSeqLen) {
    double baseLen = p.integer("base_image_seq_len");
    double maxLen = p.integer("max_image_seq_len");
    double baseShift = p.number("base_shift");
    double maxShift = p.number("max_shift");
    if (!(maxLen > baseLen)) {
      throw new IllegalArgumentException(
          p.source() + ": max_image_seq_len must exceed base_image_seq_len");
    }
    double m = (maxShift - baseShift) / (maxLen - baseLen);
    double b = baseShift - m * baseLen;
    return imageSeqLen * m + b;
  }

  /**
   * Checks that {@code kind} can be built from {@code config} without building a trajectory (at
   * package load and request validation). A flow-matching config with use_dynamic_shifting passes:
   * its mu comes with the request.
   */
  public static void check(SamplerKind kind, SchedulerConfig config) {
    String cls = schedulerClass(kind, config);
    // one step validates every key and value; the step count is checked by create
    create(kind, config, 1, 0.0, cls.equals(SchedulerConfig.FLOW_MATCH) ? 0.0 : Double.NaN);
  }

  /** The diffusers scheduler class that {@code kind} builds from {@code config}. */
  static String schedulerClass(SamplerKind kind, SchedulerConfig config) {
    if (config.isFlowMatching()) {
      if (kind == SamplerKind.EULER) {
        return SchedulerConfig.FLOW_MATCH;
      }
      if (kind != SamplerKind.AR) {
        throw new IllegalArgumentException(
            "sampler: "
                + kind.wireName()
                + " cannot sample the flow-matching schedule of "
                + config.source()
                + " ("
                + config.className()
                + "); use euler");
      }
    }
    if (config.isCogVideoX()) {
      return switch (kind) {
        case DDIM -> SchedulerConfig.COGVIDEOX_DDIM;
        case DPMPP_2M -> SchedulerConfig.COGVIDEOX_DPM;
        default ->
            throw new IllegalArgumentException(
                "sampler: "
                    + kind.wireName()
                    + " cannot sample CogVideoX's schedule of "
                    + config.source()
                    + " ("
                    + config.className()
                    + "); use ddim or dpmpp2m");
      };
    }
    return switch (kind) {
      case DDIM -> SchedulerConfig.DDIM;
      case DPMPP_2M -> SchedulerConfig.DPM;
      case EULER -> SchedulerConfig.EULER;
      case EULER_ANCESTRAL -> SchedulerConfig.EULER_ANCESTRAL;
      case AR ->
          throw new IllegalArgumentException(
              "sampler: ar is autoregressive token sampling, not a diffusion sampler");
    };
  }

  static void checkSteps(int steps, int numTrainTimesteps) {
    if (steps < 1 || steps > numTrainTimesteps) {
      throw new IllegalArgumentException(
          "steps: must be in 1.." + numTrainTimesteps + ", got " + steps);
    }
  }

  /**
   * {@code np.arange(last, 0, -n / steps)} of the "trailing" spacings. numpy's float arange yields
   * one value more than {@code steps} for some step counts (61 of 1000 training timesteps, for
   * one); diffusers then runs that many steps, with a last timestep of -1. That is refused.
   */
  static double[] trailing(int last, int n, int steps) {
    double[] t = Numpy.arange(last, 0, -((double) n / steps));
    if (t.length != steps) {
      throw new IllegalArgumentException(
          "steps: "
              + steps
              + " with timestep_spacing 'trailing' gives "
              + t.length
              + " timesteps in diffusers (float arange rounding); choose another step count");
    }
    return t;
  }
}
