package dev.genloom.evaluation;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * Fréchet distance between two Gaussians, the quantity behind FID:
 *
 * <pre>|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(sqrt(S1) S2 sqrt(S1))</pre>
 *
 * <p>The trace of the matrix square root uses symmetric eigendecompositions with negative
 * eigenvalues clipped to zero; it equals pytorch-fid's {@code tr sqrtm(S1 S2)} for positive
 * semi-definite inputs and is better conditioned. As in pytorch-fid, when the result is not finite
 * the computation is repeated with {@code eps * I} added to both covariances.
 */
public final class FrechetDistance {
  /** pytorch-fid's default offset for singular products. */
  public static final double DEFAULT_EPS = 1e-6;

  private FrechetDistance() {}

  public static double between(GaussianStats a, GaussianStats b) {
    return between(a, b, DEFAULT_EPS);
  }

  public static double between(GaussianStats a, GaussianStats b, double eps) {
    if (a.dimension() != b.dimension()) {
      throw new IllegalArgumentException(
          "feature dimensions differ: " + a.dimension() + " vs " + b.dimension());
    }
    double[] mu1 = a.mu();
    double[] mu2 = b.mu();
    double meanTerm = 0;
    for (int i = 0; i < mu1.length; i++) {
      double diff = mu1[i] - mu2[i];
      meanTerm += diff * diff;
    }
    DMatrixRMaj s1 = a.sigma();
    DMatrixRMaj s2 = b.sigma();
    double traceSqrt = traceSqrtProduct(s1, s2);
    if (!Double.isFinite(traceSqrt)) {
      DMatrixRMaj offset = CommonOps_DDRM.identity(mu1.length);
      CommonOps_DDRM.scale(eps, offset);
      CommonOps_DDRM.addEquals(s1, offset);
      CommonOps_DDRM.addEquals(s2, offset);
      traceSqrt = traceSqrtProduct(s1, s2);
    }
    double distance =
        meanTerm + CommonOps_DDRM.trace(s1) + CommonOps_DDRM.trace(s2) - 2 * traceSqrt;
    if (!Double.isFinite(distance)) {
      throw new IllegalArgumentException(
          "the Fréchet distance is not finite (" + distance + "): check the statistics");
    }
    return distance;
  }

  /** tr sqrt(sqrt(S1) S2 sqrt(S1)) via two symmetric eigendecompositions. */
  static double traceSqrtProduct(DMatrixRMaj s1, DMatrixRMaj s2) {
    DMatrixRMaj root1 = symmetricSqrt(s1);
    int n = s1.numRows;
    DMatrixRMaj tmp = new DMatrixRMaj(n, n);
    DMatrixRMaj inner = new DMatrixRMaj(n, n);
    CommonOps_DDRM.mult(root1, s2, tmp);
    CommonOps_DDRM.mult(tmp, root1, inner);
    symmetrize(inner);
    double sum = 0;
    for (double lambda : eigenvalues(inner)) {
      sum += Math.sqrt(Math.max(lambda, 0));
    }
    return sum;
  }

  /** V diag(sqrt(max(lambda, 0))) V^T for a symmetric matrix. */
  static DMatrixRMaj symmetricSqrt(DMatrixRMaj matrix) {
    int n = matrix.numRows;
    DMatrixRMaj sym = matrix.copy();
    symmetrize(sym);
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, true, true);
    if (!eig.decompose(sym)) {
      return filled(n, Double.NaN);
    }
    DMatrixRMaj result = new DMatrixRMaj(n, n);
    for (int k = 0; k < n; k++) {
      double root = Math.sqrt(Math.max(eig.getEigenvalue(k).getReal(), 0));
      DMatrixRMaj v = eig.getEigenVector(k);
      if (v == null) {
        return filled(n, Double.NaN);
      }
      double[] vd = v.data;
      for (int i = 0; i < n; i++) {
        double vi = vd[i] * root;
        if (vi == 0) {
          continue;
        }
        int base = i * n;
        for (int j = 0; j < n; j++) {
          result.data[base + j] += vi * vd[j];
        }
      }
    }
    return result;
  }

  private static double[] eigenvalues(DMatrixRMaj symmetric) {
    int n = symmetric.numRows;
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, false, true);
    double[] values = new double[n];
    if (!eig.decompose(symmetric.copy())) {
      java.util.Arrays.fill(values, Double.NaN);
      return values;
    }
    for (int k = 0; k < n; k++) {
      values[k] = eig.getEigenvalue(k).getReal();
    }
    return values;
  }

  private static void symmetrize(DMatrixRMaj m) {
    int n = m.numRows;
    for (int i = 0; i < n; i++) {
      for (int j = i + 1; j < n; j++) {
        double avg = 0.5 * (m.get(i, j) + m.get(j, i));
        m.set(i, j, avg);
        m.set(j, i, avg);
      }
    }
  }

  private static DMatrixRMaj filled(int n, double value) {
    DMatrixRMaj m = new DMatrixRMaj(n, n);
    CommonOps_DDRM.fill(m, value);
    return m;
  }
}
