package dev.genloom.generators.sampling;

import java.util.Locale;

/** Placeholder until the scheduler branch lands. */
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

  public String wireName() {
    return wireName;
  }

  public static SamplerKind parse(String name) {
    for (SamplerKind k : values()) {
      if (k.wireName.equals(name.toLowerCase(Locale.ROOT))) {
        return k;
      }
    }
    throw new IllegalArgumentException("sampler: unknown '" + name + "'");
  }

  public dev.genloom.proto.v1.Sampler toProto() {
    return switch (this) {
      case DDIM -> dev.genloom.proto.v1.Sampler.SAMPLER_DDIM;
      case DPMPP_2M -> dev.genloom.proto.v1.Sampler.SAMPLER_DPMPP_2M;
      case EULER -> dev.genloom.proto.v1.Sampler.SAMPLER_EULER;
      case EULER_ANCESTRAL -> dev.genloom.proto.v1.Sampler.SAMPLER_EULER_ANCESTRAL;
      case AR -> dev.genloom.proto.v1.Sampler.SAMPLER_AR;
    };
  }

  public static SamplerKind fromProto(dev.genloom.proto.v1.Sampler s) {
    for (SamplerKind k : values()) {
      if (k.toProto() == s) {
        return k;
      }
    }
    throw new IllegalArgumentException("sampler: unknown value " + s);
  }
}
