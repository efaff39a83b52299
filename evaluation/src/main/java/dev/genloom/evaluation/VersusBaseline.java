package dev.genloom.evaluation;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * How close a configuration's media are to its baseline's on the same prompt item and seed: mean
 * PSNR (each pair capped at 100 dB) and mean SSIM ({@link dev.genloom.generators.ImageSimilarity})
 * over every frame of the pairs whose media have the same shape.
 *
 * @param pairs item and seed pairs compared
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record VersusBaseline(int pairs, @FiniteOrNull double psnrDb, @FiniteOrNull double ssim) {}
