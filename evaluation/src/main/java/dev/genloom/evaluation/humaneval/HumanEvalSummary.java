package dev.genloom.evaluation.humaneval;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;

/**
 * A study's results as {@link HumanEvalResults} computes them, bound (through {@link
 * dev.genloom.evaluation.EvalJson}) to the JSON that {@code genloom humaneval results} prints and
 * writes to a run's {@code humaneval.json}.
 *
 * @param bootstrapRounds bootstrap rounds behind each pair's intervals
 * @param bootstrapSeed the bootstrap's seed
 * @param configs the study's configurations, reference ones first
 * @param axes one entry per question, in the study's order
 * @param raters each rater's load
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record HumanEvalSummary(
    int bootstrapRounds,
    long bootstrapSeed,
    List<String> configs,
    List<Axis> axes,
    List<Rater> raters) {

  public HumanEvalSummary {
    configs = List.copyOf(configs);
    axes = List.copyOf(axes);
    raters = List.copyOf(raters);
  }

  /**
   * One question's results.
   *
   * @param axis the question
   * @param pairs every pair of configurations with ratings, in configuration order
   * @param kappaItems items behind Fleiss' kappa (those with the most common number of raters)
   * @param kappaRatersPerItem that number of raters
   * @param fleissKappa Fleiss' kappa, null when it cannot be computed
   * @param repeatPairs (rater, repeated item) pairs answered twice
   * @param selfConsistency share of those answered the same way both times, null without any
   * @param bradleyTerry ratings per configuration with more than two configurations, else null and
   *     absent from the JSON
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Axis(
      String axis,
      List<Pair> pairs,
      int kappaItems,
      int kappaRatersPerItem,
      Double fleissKappa,
      int repeatPairs,
      Double selfConsistency,
      @JsonInclude(JsonInclude.Include.NON_NULL) List<Rating> bradleyTerry) {

    public Axis {
      pairs = List.copyOf(pairs);
      bradleyTerry = bradleyTerry == null ? null : List.copyOf(bradleyTerry);
    }
  }

  /**
   * One pair of configurations on one question. Rates are over items, by majority vote of their
   * raters.
   *
   * @param a configuration A
   * @param b configuration B
   * @param items items rated
   * @param ratings answers given
   * @param votes answers for A, by rater
   * @param warning why the rates mean little (too few items), else null and absent from the JSON
   * @param majority items won, tied and lost by A
   * @param winRate share of items A won
   * @param tieRate share tied
   * @param lossRate share A lost
   * @param netWinRate 100 × (win − loss), in [−100, 100]
   * @param winRateCi bootstrap 95% interval of the win rate
   * @param netWinRateCi bootstrap 95% interval of the net win rate
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Pair(
      String a,
      String b,
      int items,
      int ratings,
      Votes votes,
      @JsonInclude(JsonInclude.Include.NON_NULL) String warning,
      Counts majority,
      double winRate,
      double tieRate,
      double lossRate,
      double netWinRate,
      Interval winRateCi,
      Interval netWinRateCi) {}

  /** Items (or answers) won, tied and lost by configuration A. */
  public record Counts(int win, int tie, int loss) {}

  /**
   * Answers for configuration A, with the ties split by kind.
   *
   * @param tieBothGood ties answered as both good
   * @param tieBothBad ties answered as both bad
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Votes(int win, int tie, int loss, long tieBothGood, long tieBothBad) {}

  /** A 95% interval, written as {@code [low, high]}. */
  @JsonFormat(shape = JsonFormat.Shape.ARRAY)
  @JsonPropertyOrder({"low", "high"})
  public record Interval(double low, double high) {}

  /**
   * A configuration's Bradley-Terry rating (mean 1000).
   *
   * @param config the configuration
   * @param battles comparisons it took part in
   * @param rating its rating, null when it was never compared
   * @param ci bootstrap 95% interval of the rating, null when it was never compared
   * @param note why the rating means little, else null and absent from the JSON
   */
  public record Rating(
      String config,
      int battles,
      Double rating,
      Interval ci,
      @JsonInclude(JsonInclude.Include.NON_NULL) String note) {}

  /**
   * A rater's load.
   *
   * @param name the rater
   * @param assigned items assigned
   * @param answered items answered
   */
  public record Rater(String name, int assigned, int answered) {}
}
