package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * DPM-Solver++(2M) (Lu et al.; diffusers' {@code DPMSolverMultistepScheduler} with solver_order 2,
 * midpoint, final sigma zero), with the "leading" timestep spacing and steps_offset of the training
 * schedule, as configured for Stable Diffusion 1.x (the same timesteps as {@link DdimSampler}).
 * Epsilon outputs are converted to x0 predictions first; the first step and the last step are first
 * order.
 */
public final class DpmSolverPlusPlus2M implements Sampler {
  private final int[] timesteps;
  private final double[] sigmas;
  private NDArray previousX0;

  public DpmSolverPlusPlus2M(DiffusionSchedule schedule, int steps) {
    int n = schedule.numTrainTimesteps();
    if (steps < 1 || steps > n) {
      throw new IllegalArgumentException("steps: must be in 1.." + n + ", got " + steps);
    }
    // "leading" spacing: arange(steps) * (n // steps), reversed, + steps_offset
    timesteps = new int[steps];
    int ratio = n / steps;
    for (int i = 0; i < steps; i++) {
      timesteps[i] = (steps - 1 - i) * ratio + schedule.stepsOffset();
    }
    if (timesteps[0] >= schedule.numTrainTimesteps()) {
      throw new IllegalArgumentException(
          "steps: "
              + steps
              + " steps with steps_offset "
              + schedule.stepsOffset()
              + " would start past the last training timestep; use at most "
              + (schedule.numTrainTimesteps() - 1));
    }
    double[] trainSigmas = new double[n];
    for (int t = 0; t < n; t++) {
      double a = schedule.alphaCumprod(t);
      trainSigmas[t] = Math.sqrt((1 - a) / a);
    }
    sigmas = new double[steps + 1];
    for (int i = 0; i < steps; i++) {
      sigmas[i] = trainSigmas[timesteps[i]]; // integer timesteps: interpolation is exact
    }
    sigmas[steps] = 0;
  }

  @Override
  public int steps() {
    return timesteps.length;
  }

  public int timestep(int i) {
    return timesteps[i];
  }

  public double sigma(int i) {
    return sigmas[i];
  }

  @Override
  public float modelTimestep(int i) {
    return timesteps[i];
  }

  private static double alpha(double sigma) {
    return 1 / Math.sqrt(sigma * sigma + 1);
  }

  private static double lambda(double sigma) {
    double a = alpha(sigma);
    return Math.log(a) - Math.log(sigma * a);
  }

  @Override
  public NDArray addNoise(NDArray clean, NDArray noise, int i) {
    double a = alpha(sigmas[i]);
    return clean.mul(a).add(noise.mul(sigmas[i] * a));
  }

  @Override
  public NDArray step(int i, NDArray eps, NDArray sample, Supplier<NDArray> noise) {
    double sigmaS = sigmas[i];
    double alphaS = alpha(sigmaS);
    NDArray x0 = sample.sub(eps.mul(sigmaS * alphaS)).div(alphaS);
    double sigmaNext = sigmas[i + 1];
    double alphaT = alpha(sigmaNext);
    double sigmaT = sigmaNext * alphaT;
    boolean last = i == timesteps.length - 1;
    NDArray next;
    if (sigmaNext == 0) {
      next = x0; // h is infinite: the first-order update reduces to the x0 prediction
    } else {
      double h = lambda(sigmaNext) - lambda(sigmaS);
      double expm = Math.exp(-h) - 1;
      next = sample.mul(sigmaT / (sigmaS * alphaS)).sub(x0.mul(alphaT * expm));
      if (previousX0 != null && !last) {
        double h0 = lambda(sigmaS) - lambda(sigmas[i - 1]);
        double r0 = h0 / h;
        NDArray d1 = x0.sub(previousX0).div(r0);
        next = next.sub(d1.mul(0.5 * alphaT * expm));
      }
    }
    previousX0 = x0;
    return next;
  }
}
