package dev.genloom.generators.sampling;

/**
 * The discrete training schedule of a diffusers scheduler: {@code betas} and {@code alphas_cumprod}
 * with the float32 values diffusers 0.30.3 computes in its schedulers' {@code __init__} (betas from
 * {@code beta_schedule} or {@code trained_betas}, optionally rescaled to zero terminal SNR, then
 * {@code torch.cumprod(1 - betas)}).
 */
public final class DiffusionSchedule {
  private final float[] betas;
  private final float[] alphasCumprod;

  private DiffusionSchedule(float[] betas, float[] alphasCumprod) {
    this.betas = betas;
    this.alphasCumprod = alphasCumprod;
  }

  /** The schedule DDIM builds from {@code config} (no terminal clamp). */
  public static DiffusionSchedule of(SchedulerConfig config) {
    return of(config.params(SchedulerConfig.DDIM), false);
  }

  /**
   * @param clampTerminal whether the scheduler sets {@code alphas_cumprod[-1] = 2**-24} after a
   *     zero-SNR rescale (Euler, Euler ancestral and DPM-Solver do; DDIM does not)
   */
  static DiffusionSchedule of(SchedulerConfig.Params p, boolean clampTerminal) {
    int n = p.integer("num_train_timesteps");
    if (n < 2) {
      throw new IllegalArgumentException(
          p.source() + ": num_train_timesteps must be at least 2, got " + n);
    }
    float[] betas;
    double[] trained = p.numbers("trained_betas");
    if (trained != null) {
      if (trained.length != n) {
        throw new IllegalArgumentException(
            p.source()
                + ": trained_betas has "
                + trained.length
                + " values but num_train_timesteps is "
                + n);
      }
      betas = new float[n];
      for (int i = 0; i < n; i++) {
        betas[i] = (float) trained[i]; // torch.tensor(trained_betas, dtype=torch.float32)
      }
    } else {
      String type = p.string("beta_schedule");
      double start = p.number("beta_start");
      double end = p.number("beta_end");
      betas =
          switch (type) {
            case "linear" -> torchLinspace((float) start, (float) end, n);
            case "scaled_linear" -> {
              // torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=float32) ** 2
              float[] b = torchLinspace((float) Math.sqrt(start), (float) Math.sqrt(end), n);
              for (int i = 0; i < n; i++) {
                b[i] = b[i] * b[i];
              }
              yield b;
            }
            case "squaredcos_cap_v2" -> cosineBetas(n);
            default -> throw p.refuse("beta_schedule", "linear, scaled_linear, squaredcos_cap_v2");
          };
    }
    if (p.bool("rescale_betas_zero_snr")) {
      betas = rescaleZeroTerminalSnr(betas);
    }
    float[] alphasCumprod = cumprod(betas);
    if (p.bool("rescale_betas_zero_snr") && clampTerminal) {
      // Euler, Euler ancestral, DPM-Solver: alphas_cumprod[-1] = 2**-24 so sigma stays finite
      alphasCumprod[n - 1] = 0x1p-24f;
    }
    return new DiffusionSchedule(betas, alphasCumprod);
  }

  /**
   * {@code torch.linspace(start, end, n, dtype=torch.float32)} on the CPU: step = (end - start) /
   * (n - 1); the first half counts up from start, the second half down from end. The CPU kernel
   * fills 8-float vectors (AVX2) two at a time, each as {@code base + k * step} from a base
   * computed like the scalar formula, with fused multiply-adds except for lane 7, and the tail with
   * the scalar formula; this reproduces the float32 values of Debian's torch 1.13 bit for bit
   * (other builds may differ in the last bit of a few values).
   */
  static float[] torchLinspace(float start, float end, int n) {
    float[] out = new float[n];
    if (n == 1) {
      out[0] = start;
      return out;
    }
    float step = (end - start) / (n - 1);
    int half = n / 2;
    int lanes = 8;
    int i = 0;
    for (; i <= n - 2 * lanes; i += 2 * lanes) {
      for (int base = i; base < i + 2 * lanes; base += lanes) {
        float first = linspaceScalar(start, end, step, n, half, base);
        for (int k = 0; k < lanes; k++) {
          out[base + k] = k < 7 ? Math.fma((float) k, step, first) : first + k * step;
        }
      }
    }
    for (; i < n; i++) {
      out[i] = linspaceScalar(start, end, step, n, half, i);
    }
    return out;
  }

  private static float linspaceScalar(float start, float end, float step, int n, int half, int i) {
    return i < half ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (n - 1 - i), end);
  }

  /**
   * diffusers' {@code betas_for_alpha_bar} with the cosine alpha_bar of Nichol and Dhariwal and
   * max_beta 0.999, computed in Python floats and stored as float32.
   */
  static float[] cosineBetas(int n) {
    float[] betas = new float[n];
    for (int i = 0; i < n; i++) {
      double t1 = (double) i / n;
      double t2 = (double) (i + 1) / n;
      betas[i] = (float) Math.min(1 - alphaBar(t2) / alphaBar(t1), 0.999);
    }
    return betas;
  }

  private static double alphaBar(double t) {
    double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
    return c * c;
  }

  /**
   * diffusers' {@code rescale_zero_terminal_snr} (Lin et al. 2023, Algorithm 1) in float32: shift
   * and scale sqrt(alphas_cumprod) so the last is 0 and the first unchanged, then back to betas.
   */
  static float[] rescaleZeroTerminalSnr(float[] betas) {
    int n = betas.length;
    float[] sqrt = cumprod(betas);
    for (int i = 0; i < n; i++) {
      sqrt[i] = (float) Math.sqrt(sqrt[i]);
    }
    float first = sqrt[0];
    float last = sqrt[n - 1];
    float scale = first / (first - last);
    float[] alphaBar = new float[n];
    for (int i = 0; i < n; i++) {
      float s = (sqrt[i] - last) * scale;
      alphaBar[i] = s * s;
    }
    float[] out = new float[n];
    out[0] = 1f - alphaBar[0];
    for (int i = 1; i < n; i++) {
      out[i] = 1f - alphaBar[i] / alphaBar[i - 1];
    }
    return out;
  }

  /** {@code torch.cumprod(1 - betas)}: float32 alphas, the running product kept in double. */
  private static float[] cumprod(float[] betas) {
    float[] out = new float[betas.length];
    double running = 1;
    for (int i = 0; i < betas.length; i++) {
      running *= 1f - betas[i];
      out[i] = (float) running;
    }
    return out;
  }

  public int numTrainTimesteps() {
    return alphasCumprod.length;
  }

  public float beta(int t) {
    return betas[t];
  }

  public float alphaCumprod(int t) {
    return alphasCumprod[t];
  }

  /** {@code ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5} in float32, indexed by timestep. */
  float[] trainSigmas() {
    float[] sigmas = new float[alphasCumprod.length];
    for (int t = 0; t < sigmas.length; t++) {
      float a = alphasCumprod[t];
      sigmas[t] = (float) Math.sqrt((1f - a) / a);
    }
    return sigmas;
  }
}
