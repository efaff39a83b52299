package dev.genloom.pipelines;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import org.apache.beam.sdk.io.FileIO;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PBegin;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;

/**
 * Reads prompt files through Beam FileSystems (local paths, {@code gs://} with the GCP extension)
 * into {@link PromptItem}s, keeping source line numbers. Lines that cannot be parsed go to {@link
 * #DEAD_LETTERS} with the reason; the rest go to {@link #ITEMS}.
 */
public final class ReadPrompts extends PTransform<PBegin, PCollectionTuple> {
  public static final TupleTag<PromptItem> ITEMS = new TupleTag<PromptItem>() {};
  public static final TupleTag<DeadLetter> DEAD_LETTERS = new TupleTag<DeadLetter>() {};

  private final String filepattern;

  private ReadPrompts(String filepattern) {
    this.filepattern = filepattern;
  }

  /** Reads every file matching {@code filepattern}; the format follows each file's extension. */
  public static ReadPrompts from(String filepattern) {
    if (filepattern == null || filepattern.isBlank()) {
      throw new IllegalArgumentException("prompts: a file or pattern is required");
    }
    return new ReadPrompts(filepattern);
  }

  @Override
  public PCollectionTuple expand(PBegin input) {
    PCollectionTuple parsed =
        input
            .apply("Match", FileIO.match().filepattern(filepattern))
            .apply("Open", FileIO.readMatches())
            .apply(
                "Parse",
                ParDo.of(new ParseFileFn()).withOutputTags(ITEMS, TupleTagList.of(DEAD_LETTERS)));
    parsed.get(ITEMS).setCoder(WorkItemCoder.Prompts.of());
    parsed
        .get(DEAD_LETTERS)
        .setCoder(org.apache.beam.sdk.coders.SerializableCoder.of(DeadLetter.class));
    return parsed;
  }

  /** Parses one whole file so that every item keeps its line number. */
  static final class ParseFileFn extends DoFn<FileIO.ReadableFile, PromptItem> {
    private static final long serialVersionUID = 1L;

    @ProcessElement
    public void process(@Element FileIO.ReadableFile file, MultiOutputReceiver out)
        throws IOException {
      String source = file.getMetadata().resourceId().toString();
      PromptLines lines = new PromptLines(source);
      PromptLines.Sink sink =
          new PromptLines.Sink() {
            @Override
            public void item(PromptItem item) {
              out.get(ITEMS).output(item);
            }

            @Override
            public void malformed(long line, String text, String error) {
              out.get(DEAD_LETTERS).output(new DeadLetter(source, line, text, error));
            }
          };
      try (InputStream in = Channels.newInputStream(file.open())) {
        lines.readAll(in, sink);
      }
    }
  }
}
