package dev.genloom.generators.sampling;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.genloom.proto.v1.NoiseSchedule;
import dev.genloom.proto.v1.Prediction;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A diffusers scheduler config ({@code scheduler_config.json}), immutable.
 *
 * <p>A sampler is built from it the way diffusers 0.30.3's {@code <Scheduler>.from_config(config)}
 * builds one ({@code ConfigMixin.extract_init_dict}): keys listed in {@code _use_default_values}
 * are removed first, keys starting with "_" are metadata, a key of the chosen scheduler's {@code
 * __init__} is used, a key that only other schedulers take is dropped, and every missing key takes
 * the chosen scheduler's own default. Unlike diffusers, which only warns, a key that no diffusers
 * scheduler takes is refused, so that a misspelt key fails instead of silently taking a default.
 */
public final class SchedulerConfig {
  static final String DDIM = "DDIMScheduler";
  static final String DPM = "DPMSolverMultistepScheduler";
  static final String EULER = "EulerDiscreteScheduler";
  static final String EULER_ANCESTRAL = "EulerAncestralDiscreteScheduler";
  static final String FLOW_MATCH = "FlowMatchEulerDiscreteScheduler";
  static final String COGVIDEOX_DDIM = "CogVideoXDDIMScheduler";
  static final String COGVIDEOX_DPM = "CogVideoXDPMScheduler";

  /** Marks a default of {@code None} in the tables below (and a JSON null). */
  static final Object NONE = new Object();

  /** Marks a later-version key whose value does not matter here. */
  private static final Object ANY = new Object();

  /**
   * {@code __init__} parameters and defaults of the schedulers Genloom builds (diffusers 0.30.3).
   */
  static final Map<String, Map<String, Object>> INIT_DEFAULTS = new LinkedHashMap<>();

  /**
   * Keys of the other diffusers 0.30.3 schedulers' {@code __init__} (PNDM, LMS, Heun, DDPM, KDPM2,
   * KDPM2 ancestral, UniPC, DEIS, DPM-Solver singlestep / SDE / inverse, LCM, TCD, EDM, consistency
   * models, CogVideoX, flow-match Heun, score SDE, RePaint, UnCLIP, VQ-Diffusion, Wuerstchen,
   * aMUSEd, IPNDM, SA-Solver, Karras VE): a config written for one of them loads, and these keys
   * are dropped when they are not the chosen scheduler's.
   */
  static final Set<String> OTHER_SCHEDULER_KEYS =
      Set.of(
          "alpha_cum_end",
          "alpha_cum_start",
          "clip_denoised",
          "correct_steps",
          "corrector_order",
          "disable_corrector",
          "eta",
          "gamma_cum_end",
          "gamma_cum_start",
          "mask_token_id",
          "masking_schedule",
          "noise_sampler_seed",
          "num_vec_classes",
          "original_inference_steps",
          "predict_x0",
          "predictor_order",
          "rho",
          "s",
          "s_churn",
          "s_max",
          "s_min",
          "s_noise",
          "sampling_eps",
          "scaler",
          "sigma_data",
          "sigma_schedule",
          "skip_prk_steps",
          "snr",
          "solver_p",
          "tau_func",
          "timestep_scaling");

  /**
   * Keys that later diffusers versions write into their schedulers' configs, with the value that
   * leaves 0.30.3's behaviour unchanged. A config carrying that value loads (the key is dropped);
   * any other value asks for behaviour Genloom does not implement and is refused.
   */
  static final Map<String, Object> LATER_VERSION_KEYS = new LinkedHashMap<>();

  private static final ObjectMapper JSON =
      JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

  static {
    Map<String, Object> common = new LinkedHashMap<>();
    common.put("num_train_timesteps", 1000L);
    common.put("beta_start", 0.0001);
    common.put("beta_end", 0.02);
    common.put("beta_schedule", "linear");
    common.put("trained_betas", NONE);

    Map<String, Object> ddim = new LinkedHashMap<>(common);
    ddim.put("clip_sample", true);
    ddim.put("set_alpha_to_one", true);
    ddim.put("steps_offset", 0L);
    ddim.put("prediction_type", "epsilon");
    ddim.put("thresholding", false);
    ddim.put("dynamic_thresholding_ratio", 0.995);
    ddim.put("clip_sample_range", 1.0);
    ddim.put("sample_max_value", 1.0);
    ddim.put("timestep_spacing", "leading");
    ddim.put("rescale_betas_zero_snr", false);
    INIT_DEFAULTS.put(DDIM, ddim);

    Map<String, Object> dpm = new LinkedHashMap<>(common);
    dpm.put("solver_order", 2L);
    dpm.put("prediction_type", "epsilon");
    dpm.put("thresholding", false);
    dpm.put("dynamic_thresholding_ratio", 0.995);
    dpm.put("sample_max_value", 1.0);
    dpm.put("algorithm_type", "dpmsolver++");
    dpm.put("solver_type", "midpoint");
    dpm.put("lower_order_final", true);
    dpm.put("euler_at_final", false);
    dpm.put("use_karras_sigmas", false);
    dpm.put("use_lu_lambdas", false);
    dpm.put("final_sigmas_type", "zero");
    dpm.put("lambda_min_clipped", Double.NEGATIVE_INFINITY);
    dpm.put("variance_type", NONE);
    dpm.put("timestep_spacing", "linspace");
    dpm.put("steps_offset", 0L);
    dpm.put("rescale_betas_zero_snr", false);
    INIT_DEFAULTS.put(DPM, dpm);

    Map<String, Object> euler = new LinkedHashMap<>(common);
    euler.put("prediction_type", "epsilon");
    euler.put("interpolation_type", "linear");
    euler.put("use_karras_sigmas", false);
    euler.put("sigma_min", NONE);
    euler.put("sigma_max", NONE);
    euler.put("timestep_spacing", "linspace");
    euler.put("timestep_type", "discrete");
    euler.put("steps_offset", 0L);
    euler.put("rescale_betas_zero_snr", false);
    euler.put("final_sigmas_type", "zero");
    INIT_DEFAULTS.put(EULER, euler);

    Map<String, Object> ancestral = new LinkedHashMap<>(common);
    ancestral.put("prediction_type", "epsilon");
    ancestral.put("timestep_spacing", "linspace");
    ancestral.put("steps_offset", 0L);
    ancestral.put("rescale_betas_zero_snr", false);
    INIT_DEFAULTS.put(EULER_ANCESTRAL, ancestral);

    Map<String, Object> flow = new LinkedHashMap<>();
    flow.put("num_train_timesteps", 1000L);
    flow.put("shift", 1.0);
    flow.put("use_dynamic_shifting", false);
    flow.put("base_shift", 0.5);
    flow.put("max_shift", 1.15);
    flow.put("base_image_seq_len", 256L);
    flow.put("max_image_seq_len", 4096L);
    INIT_DEFAULTS.put(FLOW_MATCH, flow);

    // CogVideoX's two schedulers share their __init__
    Map<String, Object> cogvideox = new LinkedHashMap<>();
    cogvideox.put("num_train_timesteps", 1000L);
    cogvideox.put("beta_start", 0.00085);
    cogvideox.put("beta_end", 0.012);
    cogvideox.put("beta_schedule", "scaled_linear");
    cogvideox.put("trained_betas", NONE);
    cogvideox.put("clip_sample", true);
    cogvideox.put("set_alpha_to_one", true);
    cogvideox.put("steps_offset", 0L);
    cogvideox.put("prediction_type", "epsilon");
    cogvideox.put("clip_sample_range", 1.0);
    cogvideox.put("sample_max_value", 1.0);
    cogvideox.put("timestep_spacing", "leading");
    cogvideox.put("rescale_betas_zero_snr", false);
    cogvideox.put("snr_shift_scale", 3.0);
    INIT_DEFAULTS.put(COGVIDEOX_DDIM, cogvideox);
    INIT_DEFAULTS.put(COGVIDEOX_DPM, cogvideox);

    LATER_VERSION_KEYS.put("use_exponential_sigmas", false);
    LATER_VERSION_KEYS.put("use_beta_sigmas", false);
    LATER_VERSION_KEYS.put("use_flow_sigmas", false);
    LATER_VERSION_KEYS.put("invert_sigmas", false);
    LATER_VERSION_KEYS.put("stochastic_sampling", false);
    LATER_VERSION_KEYS.put("shift_terminal", NONE);
    LATER_VERSION_KEYS.put("time_shift_type", "exponential");
    // Only read when use_flow_sigmas is true, which is refused above.
    LATER_VERSION_KEYS.put("flow_shift", ANY);
  }

  private static final Set<String> KNOWN_KEYS = new HashSet<>();

  static {
    INIT_DEFAULTS.values().forEach(m -> KNOWN_KEYS.addAll(m.keySet()));
    KNOWN_KEYS.addAll(OTHER_SCHEDULER_KEYS);
  }

  private final String source;
  private final Map<String, Object> values;

  private SchedulerConfig(String source, Map<String, Object> values) {
    this.source = source;
    this.values = Collections.unmodifiableMap(values);
  }

  /** Reads a {@code scheduler_config.json}; errors name the file. */
  public static SchedulerConfig read(Path file) {
    return read(file, file.toString());
  }

  /**
   * Reads a {@code scheduler_config.json}; parse errors name it as {@code source} (a package and
   * file name rather than a server's folder), a read error names the file.
   */
  public static SchedulerConfig read(Path file, String source) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage(), e);
    }
    return parse(text, source);
  }

  /** Parses config JSON; {@code source} names it in errors (e.g. "scheduler_config.json"). */
  public static SchedulerConfig parse(String json, String source) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException(source + ": not valid JSON: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(source + ": must be a JSON object");
    }
    Map<String, Object> raw = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      raw.put(e.getKey(), toJava(e.getValue()));
    }
    return of(raw, source);
  }

  /**
   * The config equivalent to a legacy manifest {@link NoiseSchedule} (Genloom's own tiny packages):
   * beta_schedule, beta_start, beta_end, num_train_timesteps, steps_offset and set_alpha_to_one
   * from the schedule, timestep_spacing "leading", clip_sample false, prediction_type from {@code
   * prediction}. Flow-matching schedules have no such config.
   */
  public static SchedulerConfig fromNoiseSchedule(NoiseSchedule schedule, Prediction prediction) {
    String source = "manifest schedule";
    if ("flow_matching".equals(schedule.getType())) {
      throw new IllegalArgumentException(
          source + ": type 'flow_matching' has no diffusers beta schedule");
    }
    if (!schedule.getConfigFile().isEmpty()) {
      throw new IllegalArgumentException(
          source
              + ": config_file '"
              + schedule.getConfigFile()
              + "' is set; read that file with SchedulerConfig.read");
    }
    Map<String, Object> raw = new LinkedHashMap<>();
    raw.put("beta_schedule", schedule.getType());
    raw.put("beta_start", schedule.getBetaStart());
    raw.put("beta_end", schedule.getBetaEnd());
    raw.put("num_train_timesteps", (long) schedule.getNumTrainTimesteps());
    raw.put("steps_offset", (long) schedule.getStepsOffset());
    raw.put("set_alpha_to_one", schedule.getSetAlphaToOne());
    raw.put("timestep_spacing", "leading");
    raw.put("clip_sample", false);
    raw.put(
        "prediction_type",
        switch (prediction) {
          case PREDICTION_EPSILON, PREDICTION_UNSPECIFIED -> "epsilon";
          case PREDICTION_V -> "v_prediction";
          case PREDICTION_SAMPLE -> "sample";
          default ->
              throw new IllegalArgumentException(
                  "denoiser.prediction: "
                      + prediction
                      + " does not go with a beta schedule of type '"
                      + schedule.getType()
                      + "'");
        });
    return of(raw, source);
  }

  private static SchedulerConfig of(Map<String, Object> raw, String source) {
    Map<String, Object> values = new LinkedHashMap<>(raw);
    Object useDefaults = values.remove("_use_default_values");
    if (useDefaults != null && useDefaults != NONE) {
      if (!(useDefaults instanceof List<?> names)) {
        throw new IllegalArgumentException(source + ": _use_default_values must be a list of keys");
      }
      for (Object name : names) {
        if (!(name instanceof String)) {
          throw new IllegalArgumentException(
              source + ": _use_default_values must be a list of keys, got " + name);
        }
        values.remove(name);
      }
    }
    for (Map.Entry<String, Object> e : values.entrySet()) {
      String key = e.getKey();
      if (key.startsWith("_")) {
        continue;
      }
      if (LATER_VERSION_KEYS.containsKey(key)) {
        Object inert = LATER_VERSION_KEYS.get(key);
        if (inert != ANY && !inert.equals(e.getValue())) {
          throw new IllegalArgumentException(
              source
                  + ": "
                  + key
                  + " "
                  + show(e.getValue())
                  + " is not implemented (only "
                  + show(inert)
                  + ", as in diffusers 0.30.3)");
        }
        continue;
      }
      if (!KNOWN_KEYS.contains(key)) {
        throw new IllegalArgumentException(
            source + ": unknown key '" + key + "' (no diffusers scheduler takes it)");
      }
    }
    Object className = values.get("_class_name");
    if (className != null && !(className instanceof String)) {
      throw new IllegalArgumentException(source + ": _class_name must be a string");
    }
    return new SchedulerConfig(source, values);
  }

  private static Object toJava(JsonNode node) {
    if (node.isNull()) {
      return NONE;
    }
    if (node.isBoolean()) {
      return node.booleanValue();
    }
    if (node.isIntegralNumber()) {
      return node.longValue();
    }
    if (node.isNumber()) {
      return node.doubleValue();
    }
    if (node.isTextual()) {
      return node.textValue();
    }
    if (node.isArray()) {
      List<Object> list = new ArrayList<>();
      node.forEach(n -> list.add(toJava(n)));
      return Collections.unmodifiableList(list);
    }
    Map<String, Object> map = new LinkedHashMap<>();
    node.fields().forEachRemaining(e -> map.put(e.getKey(), toJava(e.getValue())));
    return Collections.unmodifiableMap(map);
  }

  static String show(Object value) {
    if (value == NONE || value == null) {
      return "null";
    }
    if (value instanceof String s) {
      return "'" + s + "'";
    }
    if (value instanceof List<?> l) {
      return "a list of " + l.size();
    }
    return String.valueOf(value);
  }

  /** Where the config came from, for error messages. */
  public String source() {
    return source;
  }

  /**
   * Whether the config was written for one of CogVideoX's schedulers, which its video pipelines
   * use: ddim builds {@code CogVideoXDDIMScheduler} from it, dpmpp2m {@code CogVideoXDPMScheduler}.
   */
  public boolean isCogVideoX() {
    String name = className();
    return name != null && name.startsWith("CogVideoX");
  }

  /** The {@code _class_name} the config was written for, or null. */
  public String className() {
    Object name = values.get("_class_name");
    return name instanceof String s ? s : null;
  }

  /** Whether the config is a flow-matching one ({@code FlowMatch*Scheduler}). */
  public boolean isFlowMatching() {
    String name = className();
    return name != null && name.startsWith("FlowMatch");
  }

  /**
   * Whether the config is a flow-matching one whose sigmas shift with the image sequence length
   * ({@code use_dynamic_shifting}), so that sampling needs a {@code mu}.
   */
  public boolean usesDynamicShifting() {
    return isFlowMatching() && params(FLOW_MATCH).bool("use_dynamic_shifting");
  }

  /** num_train_timesteps (default 1000, as in every scheduler built here). */
  public int numTrainTimesteps() {
    return params(isFlowMatching() ? FLOW_MATCH : DDIM).integer("num_train_timesteps");
  }

  /**
   * The prediction type the given sampler would use: {@code prediction_type} as that scheduler
   * takes it, with its default ("epsilon") when absent; flow-matching configs predict a velocity.
   */
  public Prediction prediction(SamplerKind kind) {
    if (isFlowMatching()) {
      return Prediction.PREDICTION_FLOW_VELOCITY;
    }
    String type = params(Samplers.schedulerClass(kind, this)).string("prediction_type");
    return switch (type) {
      case "epsilon" -> Prediction.PREDICTION_EPSILON;
      case "v_prediction" -> Prediction.PREDICTION_V;
      case "sample", "original_sample" -> Prediction.PREDICTION_SAMPLE;
      default ->
          throw new IllegalArgumentException(
              source
                  + ": prediction_type '"
                  + type
                  + "' is not implemented (epsilon, v_prediction, sample)");
    };
  }

  /** The values a scheduler of class {@code className} is constructed with. */
  Params params(String className) {
    Map<String, Object> defaults = INIT_DEFAULTS.get(className);
    if (defaults == null) {
      throw new IllegalStateException("no defaults for " + className);
    }
    Map<String, Object> effective = new LinkedHashMap<>(defaults);
    for (Map.Entry<String, Object> e : values.entrySet()) {
      if (defaults.containsKey(e.getKey())) {
        effective.put(e.getKey(), e.getValue());
      }
    }
    return new Params(source, effective, values);
  }

  @Override
  public String toString() {
    return source + " " + values;
  }

  /** Typed access to one scheduler's constructor values; errors name the source and key. */
  static final class Params {
    private final String source;
    private final Map<String, Object> effective;
    private final Map<String, Object> all;

    Params(String source, Map<String, Object> effective, Map<String, Object> all) {
      this.source = source;
      this.effective = effective;
      this.all = all;
    }

    String source() {
      return source;
    }

    Object value(String key) {
      if (!effective.containsKey(key)) {
        throw new IllegalStateException(key + " is not a constructor key here");
      }
      return effective.get(key);
    }

    /**
     * A key of the whole config, taken or not by this scheduler: diffusers registers the keys the
     * scheduler does not take into its config too, where {@code hasattr(self.config, key)} finds
     * them.
     */
    Object registered(String key) {
      return all.containsKey(key) ? all.get(key) : effective.get(key);
    }

    IllegalArgumentException refuse(String key, String options) {
      return new IllegalArgumentException(
          source
              + ": "
              + key
              + " "
              + show(value(key))
              + " is not implemented"
              + (options.isEmpty() ? "" : " (" + options + ")"));
    }

    String string(String key) {
      Object v = value(key);
      if (v instanceof String s) {
        return s;
      }
      throw new IllegalArgumentException(source + ": " + key + " must be a string, got " + show(v));
    }

    boolean bool(String key) {
      Object v = value(key);
      if (v instanceof Boolean b) {
        return b;
      }
      throw new IllegalArgumentException(
          source + ": " + key + " must be true or false, got " + show(v));
    }

    int integer(String key) {
      Object v = value(key);
      if (v instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) {
        return (int) (long) l;
      }
      if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e9) {
        return (int) (double) d;
      }
      throw new IllegalArgumentException(
          source + ": " + key + " must be an integer, got " + show(v));
    }

    double number(String key) {
      return number(key, value(key));
    }

    private double number(String key, Object v) {
      if (v instanceof Number n) {
        return n.doubleValue();
      }
      throw new IllegalArgumentException(source + ": " + key + " must be a number, got " + show(v));
    }

    /** A number or null (NaN). */
    double nullableNumber(String key) {
      Object v = value(key);
      return v == NONE ? Double.NaN : number(key, v);
    }

    /** A registered number or null (NaN), see {@link #registered}. */
    double registeredNumber(String key) {
      Object v = registered(key);
      return v == null || v == NONE ? Double.NaN : number(key, v);
    }

    boolean isNull(String key) {
      return value(key) == NONE;
    }

    /** A list of numbers, or null when the key is null. */
    double[] numbers(String key) {
      Object v = value(key);
      if (v == NONE) {
        return null;
      }
      if (!(v instanceof List<?> list)) {
        throw new IllegalArgumentException(
            source + ": " + key + " must be a list of numbers, got " + show(v));
      }
      double[] out = new double[list.size()];
      for (int i = 0; i < out.length; i++) {
        if (!(list.get(i) instanceof Number n)) {
          throw new IllegalArgumentException(
              source + ": " + key + "[" + i + "] must be a number, got " + show(list.get(i)));
        }
        out[i] = n.doubleValue();
      }
      return out;
    }
  }
}
