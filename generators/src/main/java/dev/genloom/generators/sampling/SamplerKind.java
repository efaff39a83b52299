package dev.genloom.generators.sampling;

import dev.genloom.proto.SamplerNames;
import dev.genloom.proto.v1.Sampler;
import java.util.Locale;

/**
 * The samplers a request can name. Their names are the contract's ({@link SamplerNames}), so CLI
 * options, grid files, manifests' cache schedules and the gRPC enum agree.
 */
public enum SamplerKind {
  DDIM(Sampler.SAMPLER_DDIM),
  DPMPP_2M(Sampler.SAMPLER_DPMPP_2M),
  EULER(Sampler.SAMPLER_EULER),
  EULER_ANCESTRAL(Sampler.SAMPLER_EULER_ANCESTRAL),
  AR(Sampler.SAMPLER_AR);

  private final Sampler proto;

  SamplerKind(Sampler proto) {
    this.proto = proto;
  }

  /** The name used in requests, manifests and cache schedules. */
  public String wireName() {
    return SamplerNames.name(proto);
  }

  /** Parses a name, ignoring case; an unknown name is refused listing the known ones. */
  public static SamplerKind parse(String name) {
    if (name == null) {
      throw new IllegalArgumentException("sampler: must be set");
    }
    return fromProto(SamplerNames.parse(name));
  }

  public Sampler toProto() {
    return proto;
  }

  /**
   * The kind of a proto value. {@code SAMPLER_UNSPECIFIED} means "the model's default", which only
   * the caller knows, so it is refused here like an unknown value.
   */
  public static SamplerKind fromProto(Sampler sampler) {
    for (SamplerKind kind : values()) {
      if (kind.proto == sampler) {
        return kind;
      }
    }
    throw new IllegalArgumentException(
        "sampler: "
            + sampler.name().toLowerCase(Locale.ROOT)
            + " names no sampler; resolve the model's default first");
  }
}
