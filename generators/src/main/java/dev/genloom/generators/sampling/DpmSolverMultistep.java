package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * DPM-Solver++ (Lu et al. 2022), multistep, with the semantics of diffusers 0.30.3's {@code
 * DPMSolverMultistepScheduler} for algorithm_type "dpmsolver++": solver_order 1 or 2, solver_type
 * midpoint or heun, lower_order_final, euler_at_final, use_karras_sigmas, final_sigmas_type "zero"
 * or "sigma_min", lambda_min_clipped, and its own "linspace" (default), "leading" and "trailing"
 * spacings. Model outputs (epsilon, v_prediction or sample) are converted to x0 predictions first.
 * Scalars are float32 as diffusers' 0-dim tensors are.
 */
public final class DpmSolverMultistep implements Sampler {
  private final int[] timesteps;
  private final float[] sigmas;
  private final int order;
  private final boolean heun;
  private final boolean lowerOrderFinal;
  private final boolean eulerAtFinal;
  private final boolean finalSigmaZero;
  private final PredictionType prediction;

  private NDArray previousX0;
  private int lowerOrderNums;
  private int lastStep = -1;

  DpmSolverMultistep(SchedulerConfig.Params p, int steps) {
    DiffusionSchedule schedule = DiffusionSchedule.of(p, true);
    int n = p.integer("num_train_timesteps");
    Samplers.checkSteps(steps, n);
    String algorithm = p.string("algorithm_type");
    if (!algorithm.equals("dpmsolver++") && !algorithm.equals("deis")) {
      // diffusers registers "deis" as "dpmsolver++"
      throw p.refuse("algorithm_type", "dpmsolver++");
    }
    this.order = p.integer("solver_order");
    if (order != 1 && order != 2) {
      throw p.refuse("solver_order", "1, 2");
    }
    String solverType = p.string("solver_type");
    this.heun =
        switch (solverType) {
          case "midpoint", "logrho", "bh1", "bh2" -> false; // diffusers maps the last three
          case "heun" -> true;
          default -> throw p.refuse("solver_type", "midpoint, heun");
        };
    if (p.bool("thresholding")) {
      throw p.refuse("thresholding", "only false; dynamic thresholding is for pixel-space models");
    }
    if (!p.isNull("variance_type")) {
      throw p.refuse("variance_type", "only null");
    }
    if (p.bool("use_lu_lambdas")) {
      throw p.refuse("use_lu_lambdas", "only false");
    }
    this.prediction = PredictionType.of(p, true, false);
    this.lowerOrderFinal = p.bool("lower_order_final");
    this.eulerAtFinal = p.bool("euler_at_final");
    String finalType = p.string("final_sigmas_type");
    if (!finalType.equals("zero") && !finalType.equals("sigma_min")) {
      throw p.refuse("final_sigmas_type", "zero, sigma_min");
    }
    this.finalSigmaZero = finalType.equals("zero");
    boolean karras = p.bool("use_karras_sigmas");

    // last_timestep: num_train_timesteps less the timesteps whose lambda is below
    // lambda_min_clipped (torch.searchsorted on the flipped float32 lambdas)
    float lambdaMin = (float) p.number("lambda_min_clipped");
    int clipped = 0;
    for (int t = 0; t < n; t++) {
      float a = schedule.alphaCumprod(t);
      float lambda =
          (float) Math.log((float) Math.sqrt(a)) - (float) Math.log((float) Math.sqrt(1f - a));
      if (lambda < lambdaMin) {
        clipped++;
      }
    }
    int last = n - clipped;
    int offset = p.integer("steps_offset");
    int[] ts = new int[steps];
    switch (p.string("timestep_spacing")) {
      case "linspace" -> {
        // np.linspace(0, last - 1, steps + 1).round()[::-1][:-1]
        double[] t = Numpy.linspace(0, last - 1, steps + 1);
        for (int i = 0; i < steps; i++) {
          ts[i] = (int) Numpy.round(t[steps - i]);
        }
      }
      case "leading" -> {
        // (np.arange(0, steps + 1) * (last // (steps + 1))).round()[::-1][:-1] + steps_offset
        int ratio = last / (steps + 1);
        for (int i = 0; i < steps; i++) {
          ts[i] = (steps - i) * ratio + offset;
        }
      }
      case "trailing" -> {
        // np.arange(last, 0, -n / steps).round() - 1
        double[] t = Samplers.trailing(last, n, steps);
        for (int i = 0; i < steps; i++) {
          ts[i] = (int) Numpy.round(t[i]) - 1;
        }
      }
      default -> throw p.refuse("timestep_spacing", "linspace, leading, trailing");
    }
    float[] train = schedule.trainSigmas();
    double[] s = new double[steps];
    if (karras) {
      // in_sigmas is the flipped training sigmas; sigma_min / sigma_max come from the config when
      // it has them (diffusers registers every config key, taken or not)
      double sigmaMin = p.registeredNumber("sigma_min");
      double sigmaMax = p.registeredNumber("sigma_max");
      s =
          Numpy.karras(
              Double.isNaN(sigmaMin) ? train[0] : sigmaMin,
              Double.isNaN(sigmaMax) ? train[n - 1] : sigmaMax,
              steps);
      float[] logSigmas = Numpy.log(train);
      for (int i = 0; i < steps; i++) {
        ts[i] = (int) Numpy.round(Numpy.sigmaToT(s[i], logSigmas));
      }
    } else {
      for (int i = 0; i < steps; i++) {
        s[i] = Numpy.interp(ts[i], train);
      }
    }
    this.timesteps = ts;
    this.sigmas = new float[steps + 1];
    for (int i = 0; i < steps; i++) {
      sigmas[i] = (float) s[i];
    }
    sigmas[steps] = finalSigmaZero ? 0f : train[0];
  }

  @Override
  public int steps() {
    return timesteps.length;
  }

  public int timestep(int i) {
    return timesteps[i];
  }

  /** The sigma of step {@code i}; {@code sigma(steps())} is the final one. */
  public float sigma(int i) {
    return sigmas[i];
  }

  @Override
  public float modelTimestep(int i) {
    return timesteps[i];
  }

  /** {@code _sigma_to_alpha_sigma_t}: alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma alpha_t. */
  private static float alpha(float sigma) {
    return 1f / (float) Math.sqrt(sigma * sigma + 1f);
  }

  private static float lambda(float alpha, float sigmaT) {
    return (float) Math.log(alpha) - (float) Math.log(sigmaT);
  }

  @Override
  public NDArray addNoise(NDArray clean, NDArray noise, int i) {
    float a = alpha(sigmas[i]);
    return clean.mul(a).add(noise.mul(sigmas[i] * a));
  }

  @Override
  public NDArray step(int i, NDArray modelOutput, NDArray sample, Supplier<NDArray> noise) {
    if (lastStep >= 0 && i != lastStep + 1) {
      throw new IllegalStateException(
          "DPM-Solver++ steps must run in order: step " + i + " after " + lastStep);
    }
    lastStep = i;
    int steps = timesteps.length;
    boolean finalFirstOrder =
        i == steps - 1 && (eulerAtFinal || (lowerOrderFinal && steps < 15) || finalSigmaZero);

    float alphaS0 = alpha(sigmas[i]);
    float sigmaS0 = sigmas[i] * alphaS0;
    NDArray x0 =
        switch (prediction) {
          case EPSILON -> sample.sub(modelOutput.mul(sigmaS0)).div(alphaS0);
          case SAMPLE -> modelOutput;
          default -> sample.mul(alphaS0).sub(modelOutput.mul(sigmaS0));
        };

    float alphaT = alpha(sigmas[i + 1]);
    float sigmaT = sigmas[i + 1] * alphaT;
    float lambdaT = lambda(alphaT, sigmaT);
    float lambdaS0 = lambda(alphaS0, sigmaS0);
    float h = lambdaT - lambdaS0;
    float expm1 = (float) Math.exp(-h) - 1f;
    float ratio = sigmaT / sigmaS0;
    NDArray next;
    if (order == 1 || lowerOrderNums < 1 || finalFirstOrder) {
      next = sample.mul(ratio).sub(x0.mul(alphaT * expm1));
    } else {
      float alphaS1 = alpha(sigmas[i - 1]);
      float sigmaS1 = sigmas[i - 1] * alphaS1;
      float h0 = lambdaS0 - lambda(alphaS1, sigmaS1);
      float r0 = h0 / h;
      NDArray d1 = x0.sub(previousX0).mul(1f / r0);
      next = sample.mul(ratio).sub(x0.mul(alphaT * expm1));
      if (heun) {
        next = next.add(d1.mul(alphaT * (expm1 / h + 1f)));
      } else {
        next = next.sub(d1.mul(0.5f * (alphaT * expm1)));
      }
    }
    if (lowerOrderNums < order) {
      lowerOrderNums++;
    }
    previousX0 = x0;
    return next;
  }
}
