package dev.genloom.generators.sampling;

import ai.djl.ndarray.NDArray;
import java.util.function.Supplier;

/**
 * Euler integration of a flow-matching velocity field ({@code x_sigma = (1 - sigma) x0 + sigma
 * eps}, {@code v = eps - x0}): {@code x <- x + (sigma_next - sigma) v}, over Movie Gen's
 * linear-quadratic schedule or a plain linear one.
 */
public final class FlowMatchEuler implements Sampler {
  private final double[] sigmas;
  private final double timestepScale;

  private FlowMatchEuler(double[] sigmas, double timestepScale) {
    this.sigmas = sigmas;
    this.timestepScale = timestepScale;
  }

  /**
   * Movie Gen's linear-quadratic schedule (as in diffusers' Mochi pipeline, threshold_noise 0.025,
   * linear_steps = steps / 2): the first half follows a 1000-step linear schedule, the rest falls
   * quadratically to zero.
   */
  public static FlowMatchEuler linearQuadratic(int steps, double timestepScale) {
    return new FlowMatchEuler(linearQuadraticSigmas(steps, 0.025), timestepScale);
  }

  /** Evenly spaced sigmas from 1 to 0. */
  public static FlowMatchEuler linear(int steps, double timestepScale) {
    checkSteps(steps);
    double[] sigmas = new double[steps + 1];
    for (int i = 0; i <= steps; i++) {
      sigmas[i] = 1.0 - (double) i / steps;
    }
    return new FlowMatchEuler(sigmas, timestepScale);
  }

  static double[] linearQuadraticSigmas(int steps, double thresholdNoise) {
    checkSteps(steps);
    int linearSteps = steps / 2;
    double[] t = new double[steps + 1];
    for (int i = 0; i < linearSteps; i++) {
      t[i] = i * thresholdNoise / linearSteps;
    }
    int quadraticSteps = steps - linearSteps;
    double stepDiff = linearSteps - thresholdNoise * steps;
    double quadraticCoef = stepDiff / (linearSteps * (double) quadraticSteps * quadraticSteps);
    double linearCoef =
        (linearSteps == 0 ? 0 : thresholdNoise / linearSteps)
            - 2 * stepDiff / ((double) quadraticSteps * quadraticSteps);
    double constant = quadraticCoef * linearSteps * linearSteps;
    for (int i = linearSteps; i < steps; i++) {
      t[i] = quadraticCoef * i * i + linearCoef * i + constant;
    }
    t[steps] = 1.0;
    double[] sigmas = new double[steps + 1];
    for (int i = 0; i <= steps; i++) {
      sigmas[i] = 1.0 - t[i];
    }
    return sigmas;
  }

  private static void checkSteps(int steps) {
    if (steps < 2 || steps > 1000) {
      throw new IllegalArgumentException(
          "steps: must be in 2..1000 for flow matching, got " + steps);
    }
  }

  public double sigma(int i) {
    return sigmas[i];
  }

  @Override
  public int steps() {
    return sigmas.length - 1;
  }

  @Override
  public float modelTimestep(int i) {
    return (float) (sigmas[i] * timestepScale);
  }

  @Override
  public NDArray addNoise(NDArray clean, NDArray noise, int i) {
    return clean.mul(1 - sigmas[i]).add(noise.mul(sigmas[i]));
  }

  @Override
  public NDArray step(int i, NDArray velocity, NDArray sample, Supplier<NDArray> noise) {
    return sample.add(velocity.mul(sigmas[i + 1] - sigmas[i]));
  }
}
