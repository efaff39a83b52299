package dev.genloom.evaluation;

import dev.genloom.generators.RgbImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Scores a set of generated media item by item: every frame goes through the feature network (and
 * CLIP, when there is one) in chunks of {@link #CHUNK} items, so memory holds features rather than
 * images; videos are kept for motion. {@link RunEvaluator} scores each configuration of a run with
 * it, and the benchmarks score what they generate in memory with it.
 */
public final class MediaScorer {
  /** Items read and scored at a time. */
  public static final int CHUNK = 128;

  private final FeatureNetwork network;
  private final ClipScore clip;
  private final List<RgbImage> pendingFrames = new ArrayList<>();
  private final List<String> pendingPrompts = new ArrayList<>();
  private int pendingItems;
  private final List<float[]> features = new ArrayList<>();
  private final List<int[]> predictions = new ArrayList<>();
  private final List<String> framePrompts = new ArrayList<>();
  private final List<List<RgbImage>> videos = new ArrayList<>();
  private final List<String> videoPrompts = new ArrayList<>();
  private double clipSum;

  /** {@code clip} may be null: no CLIP score. */
  public MediaScorer(FeatureNetwork network, ClipScore clip) {
    this.network = network;
    this.clip = clip;
  }

  /** One item: an image (one frame) or a video's frames, generated for {@code prompt}. */
  public void add(List<RgbImage> media, String prompt) {
    if (media.isEmpty()) {
      throw new IllegalArgumentException("an item without frames, for '" + prompt + "'");
    }
    if (media.size() > 1) {
      videos.add(media);
      videoPrompts.add(prompt);
    }
    for (RgbImage frame : media) {
      pendingFrames.add(frame);
      pendingPrompts.add(prompt);
    }
    if (++pendingItems == CHUNK) {
      flush();
    }
  }

  private void flush() {
    if (pendingFrames.isEmpty()) {
      return;
    }
    if (clip != null) {
      for (double cos : clip.cosines(pendingFrames, pendingPrompts)) {
        clipSum += 100 * cos;
      }
    }
    FeatureNetwork.Output out = network.run(pendingFrames);
    features.addAll(Arrays.asList(out.features()));
    predictions.addAll(Arrays.asList(out.predictions()));
    framePrompts.addAll(pendingPrompts);
    pendingFrames.clear();
    pendingPrompts.clear();
    pendingItems = 0;
  }

  /** Scores what was added. */
  public Scores finish() {
    flush();
    float[][] f = features.toArray(float[][]::new);
    boolean video = !videos.isEmpty();
    return new Scores(
        f,
        Alignment.of(network, predictions.toArray(int[][]::new), framePrompts),
        video ? Motion.score(videos, videoPrompts) : null,
        clip == null || f.length == 0 ? Double.NaN : Math.max(clipSum / f.length, 0));
  }

  /**
   * The scores of one set.
   *
   * @param features one feature row per frame
   * @param alignment prompt alignment of every frame
   * @param motion motion of the videos; null when the set has none
   * @param clip mean CLIP score (100 × cosine, floored at 0) per frame; NaN without CLIP
   */
  public record Scores(float[][] features, Alignment alignment, Motion motion, double clip) {
    public boolean video() {
      return motion != null;
    }

    /** Fréchet distance of the frames' features to {@code reference}; NaN under two frames. */
    public double frechetDistance(GaussianStats reference) {
      return features.length < 2
          ? Double.NaN
          : FrechetDistance.between(GaussianStats.fromFeatures(features), reference);
    }
  }
}
