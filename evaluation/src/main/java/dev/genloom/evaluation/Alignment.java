package dev.genloom.evaluation;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.genloom.generators.RgbImage;
import dev.genloom.proto.v1.FeaturesSpec;
import java.util.List;

/**
 * Automatic prompt alignment for the shapes domain (GenEval-like): the shapes-features classifier
 * predicts shape, foreground and background colour; an image is aligned when all three match the
 * prompt.
 *
 * @param samples images scored (prompts outside the shapes grammar are not counted)
 * @param allCorrect fraction with all three attributes right
 * @param shape fraction with the shape right
 * @param foreground fraction with the foreground colour right
 * @param background fraction with the background colour right
 */
public record Alignment(
    int samples,
    @JsonProperty("all") @FiniteOrNull double allCorrect,
    @FiniteOrNull double shape,
    @FiniteOrNull double foreground,
    @FiniteOrNull double background) {

  /** Scores images against their prompts with the network's heads (shape, fg, bg, in order). */
  public static Alignment score(
      FeatureNetwork network, List<RgbImage> images, List<String> prompts) {
    if (images.size() != prompts.size()) {
      throw new IllegalArgumentException(
          images.size() + " images but " + prompts.size() + " prompts");
    }
    return of(network, network.run(images).predictions(), prompts);
  }

  /** Scores predictions already made by the network (one row per image) against their prompts. */
  public static Alignment of(FeatureNetwork network, int[][] predicted, List<String> prompts) {
    FeaturesSpec spec = network.spec();
    if (spec.getHeadsCount() < 3) {
      throw new IllegalArgumentException(
          network.name() + " has no shape/foreground/background heads");
    }
    if (predicted.length != prompts.size()) {
      throw new IllegalArgumentException(
          predicted.length + " predictions but " + prompts.size() + " prompts");
    }
    int n = 0;
    int all = 0;
    int shape = 0;
    int fg = 0;
    int bg = 0;
    for (int i = 0; i < predicted.length; i++) {
      var expected = ShapesPrompt.parse(prompts.get(i));
      if (expected.isEmpty()) {
        continue;
      }
      n++;
      boolean s = label(spec, 0, predicted[i][0]).equals(expected.get().shape());
      boolean f = label(spec, 1, predicted[i][1]).equals(expected.get().foreground());
      boolean b = label(spec, 2, predicted[i][2]).equals(expected.get().background());
      shape += s ? 1 : 0;
      fg += f ? 1 : 0;
      bg += b ? 1 : 0;
      all += s && f && b ? 1 : 0;
    }
    if (n == 0) {
      return new Alignment(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }
    return new Alignment(n, all / (double) n, shape / (double) n, fg / (double) n, bg / (double) n);
  }

  private static String label(FeaturesSpec spec, int head, int index) {
    return spec.getHeads(head).getLabels(index);
  }
}
