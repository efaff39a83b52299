package dev.genloom.evaluation;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.Locale;

/**
 * Every metric of one generator configuration in a run, as one entry of {@code metrics.json}'s
 * {@code configs}. Metrics that could not be computed are NaN here and {@code null} in the file;
 * {@code items_per_s} and {@code block_saved} are written for readers of the file and recomputed
 * from the counts when it is read.
 *
 * @param id configuration id
 * @param model model package name
 * @param media whether its media are images or videos
 * @param task text-to-image, image-to-image, text-to-video or image-to-video (a reference image
 *     makes it image-to-...)
 * @param items items generated successfully
 * @param failed items that failed
 * @param samples images scored (every frame of every video)
 * @param wallMsTotal sum of per-item wall times as the pipeline saw them
 * @param wallMsMedian median per-item wall time
 * @param computeMsMedian median of each item's share of worker compute time (the batch's compute
 *     time over its size); NaN when the records do not carry it
 * @param blockEvals block evaluations run, summed over items
 * @param blockSkips block evaluations skipped by caching, summed over items
 * @param baseline the baseline its grid entry named, else the same model's most expensive uncached
 *     configuration for the same task in the run
 * @param speedup the baseline's median per-item cost over this one's: worker compute time when
 *     known, else wall time
 * @param fd Fréchet distance to the reference (NaN with fewer than 2 samples)
 * @param fdRankDeficient fewer samples than feature dimensions: FD is biased
 * @param kidMean KID mean (NaN when the reference has no features)
 * @param kidStd KID standard deviation over subsets
 * @param alignment shapes-features prompt alignment
 * @param clipScore CLIP score over every frame (NaN without a CLIP package)
 * @param motion motion in the prompted direction (videos only, else null and absent from the file)
 * @param versusBaseline PSNR and SSIM against the baseline's media on the same items and seeds
 *     (null, and absent from the file, for a configuration that is its own baseline)
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonPropertyOrder({
  "id",
  "model",
  "media",
  "task",
  "items",
  "failed",
  "samples",
  "wall_ms_total",
  "wall_ms_median",
  "compute_ms_median",
  "items_per_s",
  "block_evals",
  "block_skips",
  "block_saved",
  "baseline",
  "speedup",
  "fd",
  "fd_rank_deficient",
  "kid_mean",
  "kid_std",
  "alignment",
  "clip_score",
  "motion",
  "versus_baseline"
})
public record ConfigMetrics(
    String id,
    String model,
    Media media,
    String task,
    int items,
    int failed,
    int samples,
    long wallMsTotal,
    @FiniteOrNull double wallMsMedian,
    @FiniteOrNull double computeMsMedian,
    long blockEvals,
    long blockSkips,
    String baseline,
    @FiniteOrNull double speedup,
    @FiniteOrNull double fd,
    boolean fdRankDeficient,
    @FiniteOrNull double kidMean,
    @FiniteOrNull double kidStd,
    Alignment alignment,
    @FiniteOrNull double clipScore,
    @JsonInclude(JsonInclude.Include.NON_NULL) Motion motion,
    @JsonInclude(JsonInclude.Include.NON_NULL) VersusBaseline versusBaseline) {

  /** A configuration not yet compared with its baseline's media. */
  public ConfigMetrics(
      String id,
      String model,
      Media media,
      String task,
      int items,
      int failed,
      int samples,
      long wallMsTotal,
      double wallMsMedian,
      double computeMsMedian,
      long blockEvals,
      long blockSkips,
      String baseline,
      double speedup,
      double fd,
      boolean fdRankDeficient,
      double kidMean,
      double kidStd,
      Alignment alignment,
      double clipScore,
      Motion motion) {
    this(
        id,
        model,
        media,
        task,
        items,
        failed,
        samples,
        wallMsTotal,
        wallMsMedian,
        computeMsMedian,
        blockEvals,
        blockSkips,
        baseline,
        speedup,
        fd,
        fdRankDeficient,
        kidMean,
        kidStd,
        alignment,
        clipScore,
        motion,
        null);
  }

  ConfigMetrics withVersusBaseline(VersusBaseline versus) {
    return with(baseline, speedup, versus);
  }

  /** What a configuration generates; written as {@code image} or {@code video}. */
  public enum Media {
    IMAGE,
    VIDEO;

    @JsonValue
    String json() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Items per second if items ran one after another: items / total wall time. */
  @JsonProperty(value = "items_per_s", access = JsonProperty.Access.READ_ONLY)
  @FiniteOrNull
  public double itemsPerSecond() {
    return wallMsTotal == 0 ? Double.NaN : items * 1000.0 / wallMsTotal;
  }

  /** The per-item cost that speedups compare: worker compute when known, else wall time. */
  public double costMs() {
    return Double.isFinite(computeMsMedian) ? computeMsMedian : wallMsMedian;
  }

  /** Fraction of block evaluations that caching skipped. */
  @JsonProperty(value = "block_saved", access = JsonProperty.Access.READ_ONLY)
  @FiniteOrNull
  public double blockSaved() {
    long total = blockEvals + blockSkips;
    return total == 0 ? 0 : blockSkips / (double) total;
  }

  ConfigMetrics withBaseline(String baseline, double speedup) {
    return with(baseline, speedup, versusBaseline);
  }

  /** This configuration compared with {@code baseline}; everything it measured itself stays. */
  private ConfigMetrics with(String baseline, double speedup, VersusBaseline versus) {
    return new ConfigMetrics(
        id,
        model,
        media,
        task,
        items,
        failed,
        samples,
        wallMsTotal,
        wallMsMedian,
        computeMsMedian,
        blockEvals,
        blockSkips,
        baseline,
        speedup,
        fd,
        fdRankDeficient,
        kidMean,
        kidStd,
        alignment,
        clipScore,
        motion,
        versus);
  }
}
