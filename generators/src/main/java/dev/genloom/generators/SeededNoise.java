package dev.genloom.generators;

/**
 * The seeded noise source behind every generator, specified so that another implementation can
 * reproduce it exactly.
 *
 * <ul>
 *   <li>Bits: SplitMix64. The state starts at the seed; each draw adds {@code 0x9E3779B97F4A7C15}
 *       and mixes: {@code z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >>> 27)) *
 *       0x94D049BB133111EB; z ^ (z >>> 31)} (all arithmetic modulo 2^64).
 *   <li>Uniform: {@code (bits >>> 11) * 2^-53}, in [0, 1).
 *   <li>Gaussian: Box-Muller on two consecutive uniforms {@code u1, u2}: {@code r = sqrt(-2 ln(1 -
 *       u1))}, emitting {@code r cos(2 pi u2)} then {@code r sin(2 pi u2)}, computed in double with
 *       {@link StrictMath} and rounded to float32. Tensors are filled in row-major order.
 * </ul>
 *
 * <p>Instances are not thread-safe; each generation owns its own.
 */
public final class SeededNoise {
  private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;
  private static final double TWO_POW_MINUS_53 = 0x1.0p-53;

  private long state;
  private double spareGaussian;
  private boolean hasSpare;

  public SeededNoise(long seed) {
    this.state = seed;
  }

  /** Next 64 random bits. */
  public long nextLong() {
    long z = (state += GOLDEN_GAMMA);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Uniform double in [0, 1). */
  public double nextUniform() {
    return (nextLong() >>> 11) * TWO_POW_MINUS_53;
  }

  /** Standard normal draw. */
  public double nextGaussian() {
    if (hasSpare) {
      hasSpare = false;
      return spareGaussian;
    }
    double u1 = nextUniform();
    double u2 = nextUniform();
    double r = StrictMath.sqrt(-2.0 * StrictMath.log(1.0 - u1));
    double angle = 2.0 * StrictMath.PI * u2;
    spareGaussian = r * StrictMath.sin(angle);
    hasSpare = true;
    return r * StrictMath.cos(angle);
  }

  /** Fills a new float32 array of {@code n} standard normal values. */
  public float[] gaussians(int n) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) nextGaussian();
    }
    return out;
  }
}
