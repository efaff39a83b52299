package dev.genloom.evaluation;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The metrics of one run, bound to {@code metrics.json} (through {@link EvalJson}). Values that
 * could not be computed (NaN) are written as {@code null}; {@code comparability} is written for
 * readers of the file and follows from the features when it is read.
 *
 * @param run the run folder's name
 * @param features feature network name
 * @param featuresDescription the network and its preprocessing
 * @param reference what the distances were measured against
 * @param clip the CLIP package behind clip_score, or empty
 * @param deadLetters inputs that never became items
 * @param kidSubsets subsets KID is averaged over
 * @param kidSubsetSize samples per KID subset
 * @param configs one entry per configuration, in manifest order
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonPropertyOrder({
  "run",
  "features",
  "features_description",
  "comparability",
  "reference",
  "clip",
  "dead_letters",
  "kid_subsets",
  "kid_subset_size",
  "configs"
})
public record RunMetrics(
    String run,
    String features,
    String featuresDescription,
    String reference,
    String clip,
    long deadLetters,
    int kidSubsets,
    int kidSubsetSize,
    List<ConfigMetrics> configs) {
  public static final String FILE = "metrics.json";

  public RunMetrics {
    configs = List.copyOf(configs);
  }

  /** Whether these distances can be set beside published FID. */
  @JsonProperty(value = "comparability", access = JsonProperty.Access.READ_ONLY)
  public String comparability() {
    return features.contains("inception")
        ? "pytorch-fid Inception features: comparable to published FID only with reference"
            + " statistics from the same setup"
        : "domain features: not comparable to published FID, which needs pytorch-fid's"
            + " Inception";
  }

  /** Writes {@code runDir/metrics.json} (through a temporary file) and returns its path. */
  public Path write(Path runDir) throws IOException {
    Path file = runDir.resolve(FILE);
    Path tmp = runDir.resolve(FILE + ".tmp");
    EvalJson.write(tmp, this);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return file;
  }

  /** Reads {@code runDir/metrics.json}; an unknown key is an error that names it. */
  public static RunMetrics read(Path runDir) throws IOException {
    return EvalJson.read(runDir.resolve(FILE), RunMetrics.class);
  }
}
