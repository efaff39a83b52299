package dev.genloom.evaluation;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.genloom.generators.ModelPackage;
import dev.genloom.generators.ModelPackageException;
import dev.genloom.generators.RgbImage;
import dev.genloom.generators.TorchComponent;
import dev.genloom.generators.text.PromptTokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * CLIP score with a CLIP-style package: {@code clip_image} (pixels to embeddings), {@code
 * clip_text} (token ids to embeddings) and a tokenizer. As torchmetrics computes it: 100 times the
 * cosine of each image's and its prompt's embeddings, averaged over the pairs, then clamped at 0.
 * The number depends on the encoder pair; only scores from the same pair are comparable.
 */
public final class ClipScore implements AutoCloseable {
  private static final int BATCH = 64;

  private final ModelPackage pkg;
  private final Device device;
  private final TorchComponent image;
  private final TorchComponent text;
  private final PromptTokenizer tokenizer;

  private ClipScore(
      ModelPackage pkg,
      Device device,
      TorchComponent image,
      TorchComponent text,
      PromptTokenizer tokenizer) {
    this.pkg = pkg;
    this.device = device;
    this.image = image;
    this.text = text;
    this.tokenizer = tokenizer;
  }

  /** Whether a package carries a CLIP-style pair. */
  public static boolean isClip(ModelPackage pkg) {
    return pkg.component("clip_image").isPresent() && pkg.component("clip_text").isPresent();
  }

  public static ClipScore open(ModelPackage pkg, Device device) {
    if (!isClip(pkg)) {
      throw new ModelPackageException(
          pkg.root() + ": a CLIP package needs 'clip_image' and 'clip_text' components");
    }
    PromptTokenizer tokenizer =
        PromptTokenizer.load(
            pkg.resolve(pkg.manifest().getTokenizer().getFile()), pkg.manifest().getTokenizer());
    return new ClipScore(
        pkg,
        device,
        TorchComponent.load(pkg, pkg.component("clip_image").get(), device),
        TorchComponent.load(pkg, pkg.component("clip_text").get(), device),
        tokenizer);
  }

  public String name() {
    return pkg.name();
  }

  /** The score of images against their prompts (one prompt per image). */
  public double score(List<RgbImage> images, List<String> prompts) {
    if (images.size() != prompts.size()) {
      throw new IllegalArgumentException(
          images.size() + " images but " + prompts.size() + " prompts");
    }
    if (images.isEmpty()) {
      throw new IllegalArgumentException("CLIP score needs at least one image");
    }
    double sum = 0;
    for (double cos : cosines(images, prompts)) {
      sum += 100 * cos;
    }
    return Math.max(sum / images.size(), 0);
  }

  /** Cosine similarity of each image's and its prompt's embeddings. */
  public double[] cosines(List<RgbImage> images, List<String> prompts) {
    double[] out = new double[images.size()];
    for (int start = 0; start < images.size(); start += BATCH) {
      int end = Math.min(images.size(), start + BATCH);
      try (NDManager scope = NDManager.newBaseManager(device)) {
        List<NDArray> pixels = new ArrayList<>();
        long[] ids = new long[(end - start) * tokenizer.maxLength()];
        for (int i = start; i < end; i++) {
          pixels.add(imageInput(images.get(i), scope));
          // As torchmetrics' CLIP score does, a caption longer than the encoder takes is truncated.
          long[] row = tokenizer.encode(prompts.get(i)).ids();
          System.arraycopy(row, 0, ids, (i - start) * tokenizer.maxLength(), row.length);
        }
        NDArray imageEmbeds = image.forward(new NDList(NDArrays.stack(new NDList(pixels)))).get(0);
        NDArray textEmbeds =
            text.forward(
                    new NDList(scope.create(ids, new Shape(end - start, tokenizer.maxLength()))))
                .get(0);
        float[] a = imageEmbeds.toType(DataType.FLOAT32, false).toFloatArray();
        float[] b = textEmbeds.toType(DataType.FLOAT32, false).toFloatArray();
        int d = (int) imageEmbeds.getShape().get(1);
        for (int i = 0; i < end - start; i++) {
          double dot = 0;
          double na = 0;
          double nb = 0;
          for (int j = 0; j < d; j++) {
            double x = a[i * d + j];
            double y = b[i * d + j];
            dot += x * y;
            na += x * x;
            nb += y * y;
          }
          // torch's cosine_similarity divides by max(|a||b|, eps) with eps 1e-8
          out[start + i] = dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-8);
        }
      }
    }
    return out;
  }

  /**
   * The image as the image tower takes it: [0, 1] CHW, resized bilinearly when the component
   * declares a fixed input size and the image has another (as torchmetrics' processor resizes).
   */
  private NDArray imageInput(RgbImage img, NDManager scope) {
    java.util.List<Long> shape = image.spec().getInputs(0).getShapeList();
    if (shape.size() == 4 && shape.get(2) > 0 && shape.get(3) > 0) {
      return img.toUnit(scope, shape.get(3).intValue(), shape.get(2).intValue());
    }
    return img.toUnit(scope);
  }

  @Override
  public void close() {
    image.close();
    text.close();
    tokenizer.close();
  }
}
