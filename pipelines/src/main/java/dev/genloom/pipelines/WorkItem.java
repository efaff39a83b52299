package dev.genloom.pipelines;

import dev.genloom.proto.v1.GeneratorConfig;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * One generation to perform: a prompt item, a seed and a configuration, named by a deterministic
 * request id.
 *
 * @param requestId first 16 bytes (hex) of SHA-256 over prompt, negative prompt, reference,
 *     serialized configuration and seed
 */
public record WorkItem(PromptItem item, long seed, byte[] config, String configId, String requestId)
    implements Serializable {

  public static WorkItem of(PromptItem item, long seed, GeneratorConfig config) {
    byte[] serialized = config.toByteArray();
    // the report's baseline is not part of what is generated
    byte[] identity =
        config.getBaseline().isEmpty()
            ? serialized
            : config.toBuilder().clearBaseline().build().toByteArray();
    return new WorkItem(item, seed, serialized, config.getId(), requestId(item, seed, identity));
  }

  static String requestId(PromptItem item, long seed, byte[] config) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (String part :
          new String[] {item.prompt(), item.negativePrompt(), item.referenceImage()}) {
        byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
        sha.update(java.nio.ByteBuffer.allocate(4).putInt(bytes.length).array());
        sha.update(bytes);
      }
      sha.update(java.nio.ByteBuffer.allocate(4).putInt(config.length).array());
      sha.update(config);
      sha.update(java.nio.ByteBuffer.allocate(8).putLong(seed).array());
      return HexFormat.of().formatHex(sha.digest(), 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public GeneratorConfig generatorConfig() {
    try {
      return GeneratorConfig.parseFrom(config);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof WorkItem w && w.requestId.equals(requestId);
  }

  @Override
  public int hashCode() {
    return requestId.hashCode();
  }
}
