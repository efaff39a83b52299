package dev.genloom.generators.sampling;

import dev.genloom.proto.v1.Sampler;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The samplers a request can name, with their wire names and proto values. */
public enum SamplerKind {
  DDIM("ddim"),
  DPMPP_2M("dpmpp2m"),
  EULER("euler"),
  EULER_ANCESTRAL("euler_a"),
  AR("ar");

  private final String wireName;

  SamplerKind(String wireName) {
    this.wireName = wireName;
  }

  /** The name used in requests, manifests and cache schedules. */
  public String wireName() {
    return wireName;
  }

  /** Parses a wire name, ignoring case. */
  public static SamplerKind parse(String name) {
    if (name != null) {
      for (SamplerKind kind : values()) {
        if (kind.wireName.equalsIgnoreCase(name.trim())) {
          return kind;
        }
      }
    }
    throw new IllegalArgumentException(
        "sampler: unknown '"
            + name
            + "' (known: "
            + Arrays.stream(values()).map(SamplerKind::wireName).collect(Collectors.joining(", "))
            + ")");
  }

  public Sampler toProto() {
    return switch (this) {
      case DDIM -> Sampler.SAMPLER_DDIM;
      case DPMPP_2M -> Sampler.SAMPLER_DPMPP_2M;
      case EULER -> Sampler.SAMPLER_EULER;
      case EULER_ANCESTRAL -> Sampler.SAMPLER_EULER_ANCESTRAL;
      case AR -> Sampler.SAMPLER_AR;
    };
  }

  /**
   * The kind of a proto value. {@code SAMPLER_UNSPECIFIED} means "the model's default", which only
   * the caller knows, so it is refused here like an unknown value.
   */
  public static SamplerKind fromProto(Sampler sampler) {
    return switch (sampler) {
      case SAMPLER_DDIM -> DDIM;
      case SAMPLER_DPMPP_2M -> DPMPP_2M;
      case SAMPLER_EULER -> EULER;
      case SAMPLER_EULER_ANCESTRAL -> EULER_ANCESTRAL;
      case SAMPLER_AR -> AR;
      default ->
          throw new IllegalArgumentException(
              "sampler: "
                  + sampler.name().toLowerCase(Locale.ROOT)
                  + " names no sampler; resolve the model's default first");
    };
  }
}
