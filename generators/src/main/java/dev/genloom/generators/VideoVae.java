package dev.genloom.generators;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import dev.genloom.proto.v1.LatentSpec;
import dev.genloom.proto.v1.VideoSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * A causal video VAE as diffusers' CogVideoX pipelines run it: latents decoded in frame chunks, the
 * first of {@code head_frames} latent frames and then {@code step_frames} at a time, each chunk's
 * causal convolutions continuing from the previous chunk's frame caches (the decoder components
 * take and return them); and, for image-to-video, the first frame's posterior sampled one image at
 * a time.
 */
final class VideoVae {
  private final TorchComponent head;
  private final TorchComponent step;
  private final TorchComponent encoder;
  private final VideoSpec video;
  private final double scale;
  private final int caches;

  private VideoVae(
      TorchComponent head,
      TorchComponent step,
      TorchComponent encoder,
      VideoSpec video,
      double scale,
      int caches) {
    this.head = head;
    this.step = step;
    this.encoder = encoder;
    this.video = video;
    this.scale = scale;
    this.caches = caches;
  }

  /** Binds the components the manifest names; their inputs and outputs must agree on caches. */
  static VideoVae bind(
      ModelPackage pkg,
      LoadedComponents components,
      VideoSpec video,
      LatentSpec latent,
      boolean imageToVideo) {
    TorchComponent head = components.get(video.getDecoderHead());
    TorchComponent step = components.get(video.getDecoderStep());
    int caches = head.spec().getOutputsCount() - 1;
    if (head.spec().getInputsCount() != 1
        || step.spec().getInputsCount() != 1 + caches
        || step.spec().getOutputsCount() != 1 + caches) {
      throw new ModelPackageException(
          pkg.root().resolve(ModelPackage.MANIFEST_FILE)
              + ": video decoder '"
              + video.getDecoderHead()
              + "' must take the latent and give pixels and K caches, and '"
              + video.getDecoderStep()
              + "' take the latent and those K caches and give pixels and K caches");
    }
    TorchComponent encoder = null;
    if (imageToVideo) {
      encoder = components.get(video.getEncoder());
      if (encoder.spec().getOutputsCount() != 2) {
        throw new ModelPackageException(
            pkg.root().resolve(ModelPackage.MANIFEST_FILE)
                + ": video encoder '"
                + video.getEncoder()
                + "' must give the posterior's mean and std");
      }
    }
    if (!(latent.getScaleFactor() > 0)) {
      throw new ModelPackageException(
          pkg.root().resolve(ModelPackage.MANIFEST_FILE) + ": latent.scale_factor must be > 0");
    }
    return new VideoVae(head, step, encoder, video, latent.getScaleFactor(), caches);
  }

  /**
   * The first frames' latents {@code [B, 1, C, h, w]} times the scale factor: each image encoded
   * alone (as the pipeline does; a batch moves the result), {@code mean + std * noise[b]}.
   */
  NDArray encodeFirstFrames(NDArray pixels, NDArray noise) {
    List<NDArray> latents = new ArrayList<>();
    long batch = pixels.getShape().get(0);
    for (int b = 0; b < batch; b++) {
      String item = b + ":" + (b + 1);
      NDList posterior = encoder.forward(new NDList(pixels.get(item)));
      latents.add(posterior.get(0).add(posterior.get(1).mul(noise.get(item))));
    }
    NDArray z = NDArrays.concat(new NDList(latents), 0); // [B, C, 1, h, w]
    return z.transpose(0, 2, 1, 3, 4).mul((float) scale);
  }

  /** Latents {@code [B, F', C, h, w]} to pixels {@code [B, 3, F, H, W]} in [-1, 1]. */
  NDArray decode(NDArray latents) {
    NDArray z = latents.transpose(0, 2, 1, 3, 4).mul((float) (1.0 / scale));
    long frames = z.getShape().get(2);
    int first = video.getHeadFrames();
    int chunk = video.getStepFrames();
    NDList out = head.forward(new NDList(z.get(":, :, 0:" + first)));
    List<NDArray> pixels = new ArrayList<>();
    pixels.add(out.get(0));
    NDList state = new NDList(out.subList(1, 1 + caches));
    for (long s = first; s < frames; s += chunk) {
      NDList in = new NDList(z.get(":, :, " + s + ":" + (s + chunk)));
      in.addAll(state);
      NDList next = step.forward(in);
      pixels.add(next.get(0));
      state.forEach(NDArray::close);
      state = new NDList(next.subList(1, 1 + caches));
    }
    return NDArrays.concat(new NDList(pixels), 2);
  }
}
