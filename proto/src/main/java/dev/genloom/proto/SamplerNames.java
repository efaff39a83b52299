package dev.genloom.proto;

import dev.genloom.proto.v1.Sampler;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The names users type for samplers (CLI options, grid files, calibrated schedules in manifests)
 * and the {@link Sampler} values they stand for: the one table both sides of the contract use.
 */
public final class SamplerNames {
  private SamplerNames() {}

  private static final Sampler[] NAMED = {
    Sampler.SAMPLER_DDIM,
    Sampler.SAMPLER_DPMPP_2M,
    Sampler.SAMPLER_EULER,
    Sampler.SAMPLER_EULER_ANCESTRAL,
    Sampler.SAMPLER_AR
  };

  /** The name of {@code sampler}: ddim, dpmpp2m, euler, euler_a or ar. */
  public static String name(Sampler sampler) {
    return switch (sampler) {
      case SAMPLER_DDIM -> "ddim";
      case SAMPLER_DPMPP_2M -> "dpmpp2m";
      case SAMPLER_EULER -> "euler";
      case SAMPLER_EULER_ANCESTRAL -> "euler_a";
      case SAMPLER_AR -> "ar";
      default -> throw new IllegalArgumentException("sampler: no name for " + sampler);
    };
  }

  /** The sampler a name stands for (case-insensitive); an unknown name is refused, listing all. */
  public static Sampler parse(String name) {
    String wanted = name.strip().toLowerCase(Locale.ROOT);
    for (Sampler sampler : NAMED) {
      if (name(sampler).equals(wanted)) {
        return sampler;
      }
    }
    throw new IllegalArgumentException(
        "sampler: unknown '" + name + "' (known: " + String.join(", ", names()) + ")");
  }

  /** Every name, in a fixed order. */
  public static java.util.List<String> names() {
    return Arrays.stream(NAMED).map(SamplerNames::name).collect(Collectors.toList());
  }
}
