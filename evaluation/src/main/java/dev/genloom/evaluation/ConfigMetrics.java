package dev.genloom.evaluation;

/**
 * Every metric of one generator configuration in a run.
 *
 * @param id configuration id
 * @param model model package name
 * @param video whether its media are videos
 * @param task text-to-image, image-to-image, text-to-video or image-to-video (a reference image
 *     makes it image-to-...)
 * @param requestedBaseline the baseline its grid entry named, or empty
 * @param items items generated successfully
 * @param failed items that failed
 * @param samples images scored (every frame of every video)
 * @param wallMsTotal sum of per-item wall times as the pipeline saw them
 * @param wallMsMedian median per-item wall time
 * @param computeMsMedian median of each item's share of worker compute time (the batch's compute
 *     time over its size); NaN when the records do not carry it
 * @param blockEvals block evaluations run, summed over items
 * @param blockSkips block evaluations skipped by caching, summed over items
 * @param baseline the requested baseline, else the same model's most expensive uncached
 *     configuration for the same task in the run
 * @param speedup the baseline's median per-item cost over this one's: worker compute time when
 *     known, else wall time
 * @param fd Fréchet distance to the reference (NaN with fewer than 2 samples)
 * @param fdRankDeficient fewer samples than feature dimensions: FD is biased
 * @param kidMean KID mean (NaN when the reference has no features)
 * @param kidStd KID standard deviation over subsets
 * @param alignment shapes-features prompt alignment
 * @param motion motion in the prompted direction (videos only, else null)
 * @param clipScore CLIP score over every frame (NaN without a CLIP package)
 */
public record ConfigMetrics(
    String id,
    String model,
    boolean video,
    String task,
    String requestedBaseline,
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
    Motion motion,
    double clipScore) {

  /** Items per second if items ran one after another: items / total wall time. */
  public double itemsPerSecond() {
    return wallMsTotal == 0 ? Double.NaN : items * 1000.0 / wallMsTotal;
  }

  /** The per-item cost that speedups compare: worker compute when known, else wall time. */
  public double costMs() {
    return Double.isFinite(computeMsMedian) ? computeMsMedian : wallMsMedian;
  }

  /** Fraction of block evaluations that caching skipped. */
  public double blockSaved() {
    long total = blockEvals + blockSkips;
    return total == 0 ? 0 : blockSkips / (double) total;
  }

  ConfigMetrics withBaseline(String baseline, double speedup) {
    return new ConfigMetrics(
        id,
        model,
        video,
        task,
        requestedBaseline,
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
        motion,
        clipScore);
  }
}
