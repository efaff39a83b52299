package dev.genloom.evaluation;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The metrics of one run, as written to {@code metrics.json}. Values that could not be computed
 * (NaN) are written as {@code null}.
 *
 * @param run the run folder's name
 * @param features feature network name
 * @param featuresDescription the network and its preprocessing
 * @param reference what the distances were measured against
 * @param clip the CLIP package behind clip_score, or empty
 * @param deadLetters inputs that never became items
 * @param configs one entry per configuration, in manifest order
 */
public record RunMetrics(
    String run,
    String features,
    String featuresDescription,
    String reference,
    String clip,
    long deadLetters,
    List<ConfigMetrics> configs) {
  public static final String FILE = "metrics.json";

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public RunMetrics {
    configs = List.copyOf(configs);
  }

  public ObjectNode toJson() {
    ObjectNode root = JSON.createObjectNode();
    root.put("run", run);
    root.put("features", features);
    root.put("features_description", featuresDescription);
    root.put(
        "comparability",
        features.contains("inception")
            ? "pytorch-fid Inception features: comparable to published FID only with reference"
                + " statistics from the same setup"
            : "domain features: not comparable to published FID, which needs pytorch-fid's"
                + " Inception");
    root.put("reference", reference);
    root.put("clip", clip);
    root.put("dead_letters", deadLetters);
    root.put("kid_subsets", RunEvaluator.KID_SUBSETS);
    root.put("kid_subset_size", RunEvaluator.KID_SUBSET_SIZE);
    ArrayNode list = root.putArray("configs");
    for (ConfigMetrics c : configs) {
      ObjectNode node = list.addObject();
      node.put("id", c.id());
      node.put("model", c.model());
      node.put("media", c.video() ? "video" : "image");
      node.put("task", c.task());
      node.put("items", c.items());
      node.put("failed", c.failed());
      node.put("samples", c.samples());
      node.put("wall_ms_total", c.wallMsTotal());
      number(node, "wall_ms_median", c.wallMsMedian());
      number(node, "compute_ms_median", c.computeMsMedian());
      number(node, "items_per_s", c.itemsPerSecond());
      node.put("block_evals", c.blockEvals());
      node.put("block_skips", c.blockSkips());
      number(node, "block_saved", c.blockSaved());
      node.put("baseline", c.baseline());
      number(node, "speedup", c.speedup());
      number(node, "fd", c.fd());
      node.put("fd_rank_deficient", c.fdRankDeficient());
      number(node, "kid_mean", c.kidMean());
      number(node, "kid_std", c.kidStd());
      ObjectNode a = node.putObject("alignment");
      a.put("samples", c.alignment().samples());
      number(a, "all", c.alignment().allCorrect());
      number(a, "shape", c.alignment().shape());
      number(a, "foreground", c.alignment().foreground());
      number(a, "background", c.alignment().background());
      number(node, "clip_score", c.clipScore());
      if (c.motion() != null) {
        ObjectNode m = node.putObject("motion");
        m.put("samples", c.motion().samples());
        number(m, "correct", c.motion().correct());
      }
    }
    return root;
  }

  public Path write(Path runDir) throws IOException {
    Path file = runDir.resolve(FILE);
    Path tmp = runDir.resolve(FILE + ".tmp");
    Files.writeString(tmp, JSON.writeValueAsString(toJson()) + "\n");
    Files.move(
        tmp,
        file,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return file;
  }

  private static void number(ObjectNode node, String field, double value) {
    if (Double.isFinite(value)) {
      node.put(field, value);
    } else {
      node.putNull(field);
    }
  }
}
