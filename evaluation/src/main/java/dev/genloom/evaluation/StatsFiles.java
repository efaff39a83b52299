package dev.genloom.evaluation;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;

/**
 * Saves and loads {@link GaussianStats} as pytorch-fid {@code .npz} files ({@code mu}, {@code
 * sigma}).
 */
public final class StatsFiles {
  private StatsFiles() {}

  public static void save(GaussianStats stats, Path file) throws IOException {
    Map<String, Npz.Array> arrays = new LinkedHashMap<>();
    int d = stats.dimension();
    arrays.put("mu", new Npz.Array(new long[] {d}, stats.mu()));
    arrays.put("sigma", new Npz.Array(new long[] {d, d}, stats.sigma().data.clone()));
    Npz.write(file, arrays);
  }

  public static GaussianStats load(Path file) {
    Map<String, Npz.Array> arrays = Npz.read(file);
    Npz.Array mu = arrays.get("mu");
    Npz.Array sigma = arrays.get("sigma");
    if (mu == null || sigma == null) {
      throw new IllegalArgumentException(
          file
              + " must hold arrays 'mu' and 'sigma' (pytorch-fid format); it has "
              + arrays.keySet());
    }
    int d = mu.data().length;
    if (sigma.data().length != (long) d * d) {
      throw new IllegalArgumentException(
          file + ": sigma has " + sigma.data().length + " values, expected " + d + "x" + d);
    }
    try {
      return GaussianStats.of(mu.data(), new DMatrixRMaj(d, d, true, sigma.data()), 0);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }
}
