package dev.genloom.pipelines;

import java.io.IOException;
import java.util.List;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.EmptyMatchTreatment;
import org.apache.beam.sdk.io.fs.MatchResult;
import org.apache.beam.sdk.io.fs.ResolveOptions;
import org.apache.beam.sdk.transforms.DoFn;

/**
 * Gives an item with an id and no reference image of its own the image named after its id in a
 * reference folder ({@code ID.png}, {@code ID.jpg} or {@code ID.jpeg}, first found), through Beam
 * FileSystems. Items without an id, with their own reference, or without a matching file pass
 * unchanged. Ids that would leave the folder are never looked up.
 */
final class ReferenceByIdFn extends DoFn<PromptItem, PromptItem> {
  private static final long serialVersionUID = 1L;
  private static final List<String> EXTENSIONS = List.of(".png", ".jpg", ".jpeg");

  private final String folder;

  ReferenceByIdFn(String folder) {
    this.folder = folder;
  }

  @ProcessElement
  public void process(@Element PromptItem item, OutputReceiver<PromptItem> out) throws IOException {
    if (item.id().isEmpty()
        || !item.referenceImage().isEmpty()
        || !item.id().matches("[A-Za-z0-9._-]+")
        || item.id().startsWith(".")) {
      out.output(item);
      return;
    }
    for (String extension : EXTENSIONS) {
      String candidate =
          FileSystems.matchNewResource(folder, true)
              .resolve(item.id() + extension, ResolveOptions.StandardResolveOptions.RESOLVE_FILE)
              .toString();
      MatchResult match = FileSystems.match(candidate, EmptyMatchTreatment.ALLOW);
      if (match.status() == MatchResult.Status.OK && !match.metadata().isEmpty()) {
        out.output(
            new PromptItem(
                item.source(),
                item.line(),
                item.id(),
                item.prompt(),
                item.negativePrompt(),
                candidate,
                item.overrides()));
        return;
      }
    }
    out.output(item);
  }
}
