package dev.genloom.pipelines;

import com.google.protobuf.ByteString;
import dev.genloom.proto.v1.GenerateRequest;
import dev.genloom.proto.v1.GeneratorConfig;
import dev.genloom.proto.v1.ReferenceImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.ResourceId;

/** The GenerateRequest of a work item: its request id, prompt, seed, configuration, reference. */
final class GenerateRequests {
  private GenerateRequests() {}

  /**
   * The request for {@code item}, with its reference image's bytes.
   *
   * @throws IllegalArgumentException naming {@code reference_image} when that file cannot be read
   */
  static GenerateRequest of(WorkItem item) {
    GeneratorConfig config = item.generatorConfig();
    GenerateRequest.Builder request =
        GenerateRequest.newBuilder()
            .setRequestId(item.requestId())
            .setModel(config.getModel())
            .setPrompt(item.item().prompt())
            .setNegativePrompt(item.item().negativePrompt())
            .setSeed(item.seed())
            .setSteps(config.getSteps())
            .setSampler(config.getSampler())
            .setCachePolicy(config.getCachePolicy())
            .setArSampling(config.getArSampling())
            .setNumFrames(config.getNumFrames())
            .setWidth(config.getWidth())
            .setHeight(config.getHeight())
            .setAspectRatio(config.getAspectRatio())
            .setPromptOverflow(config.getPromptOverflow());
    if (config.hasGuidanceScale()) {
      request.setGuidanceScale(config.getGuidanceScale());
    }
    if (!item.item().referenceImage().isEmpty()) {
      request.addReferenceImages(
          ReferenceImage.newBuilder().setData(readReference(item.item().referenceImage())));
    }
    return request.build();
  }

  /** Reads a reference image through Beam FileSystems; failures name the file. */
  static ByteString readReference(String spec) {
    try {
      ResourceId resource = FileSystems.matchSingleFileSpec(spec).resourceId();
      try (InputStream in = Channels.newInputStream(FileSystems.open(resource))) {
        return ByteString.readFrom(in);
      }
    } catch (IOException | IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "reference_image: cannot read '" + spec + "': " + e.getMessage());
    }
  }
}
