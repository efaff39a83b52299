package dev.genloom.evaluation.report;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.genloom.evaluation.ConfigMetrics;
import dev.genloom.evaluation.FiniteOrNull;
import dev.genloom.evaluation.RunMetrics;
import dev.genloom.evaluation.humaneval.HumanEvalSummary;
import dev.genloom.proto.v1.RunRecord;
import java.util.List;

/**
 * What a run's report shows, bound (through {@link dev.genloom.evaluation.EvalJson}) to {@code
 * report.json}: the run's metrics as {@code metrics.json} has them, the quality/cost frontier, the
 * sample grids and any human-evaluation results. {@link ReportPage} renders it.
 *
 * @param run the run folder's name
 * @param features feature network name
 * @param featuresDescription the network and its preprocessing
 * @param comparability whether the distances can be set beside published FID
 * @param reference what the distances were measured against
 * @param clip the CLIP package behind clip_score, or empty
 * @param deadLetters inputs that never became items
 * @param configs every configuration's metrics
 * @param frontier each configuration's cost and quality
 * @param samples the sample grids
 * @param humanEval human-evaluation results, or null when no study has been run on the run
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record ReportModel(
    String run,
    String features,
    String featuresDescription,
    String comparability,
    String reference,
    String clip,
    long deadLetters,
    List<ConfigMetrics> configs,
    List<FrontierPoint> frontier,
    Samples samples,
    HumanEvalSummary humanEval) {

  public ReportModel {
    configs = List.copyOf(configs);
    frontier = List.copyOf(frontier);
  }

  /** The report of a run from its metrics, its manifest's records and any human evaluation. */
  public static ReportModel of(
      RunMetrics metrics, List<RunRecord> records, HumanEvalSummary humanEval) {
    return new ReportModel(
        metrics.run(),
        metrics.features(),
        metrics.featuresDescription(),
        metrics.comparability(),
        metrics.reference(),
        metrics.clip(),
        metrics.deadLetters(),
        metrics.configs(),
        metrics.configs().stream().map(FrontierPoint::of).toList(),
        new Samples(
            SampleGrid.of(records, SampleGrid.Section.IMAGE),
            SampleGrid.of(records, SampleGrid.Section.VIDEO),
            SampleGrid.of(records, SampleGrid.Section.VIDEO_FROM_REFERENCE)),
        humanEval);
  }

  /**
   * One configuration on the quality/cost frontier.
   *
   * @param id configuration id
   * @param model model package name
   * @param speedup over its baseline (NaN, null in the file, when unknown)
   * @param blockSaved fraction of block evaluations that caching skipped
   * @param fd Fréchet distance to the reference (NaN, null in the file, when unknown)
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record FrontierPoint(
      String id,
      String model,
      @FiniteOrNull double speedup,
      @FiniteOrNull double blockSaved,
      @FiniteOrNull double fd) {
    static FrontierPoint of(ConfigMetrics c) {
      return new FrontierPoint(c.id(), c.model(), c.speedup(), c.blockSaved(), c.fd());
    }
  }

  /**
   * The sample grids, one per media kind.
   *
   * @param image images
   * @param video text-to-video
   * @param videoFromReference image-to-video (a reference frame given)
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Samples(SampleGrid image, SampleGrid video, SampleGrid videoFromReference) {}
}
