package dev.genloom.pipelines;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.proto.ProtoJson;
import dev.genloom.proto.RunLayout;
import dev.genloom.proto.v1.RunRecord;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.TextIO;
import org.apache.beam.sdk.io.WriteFilesResult;
import org.apache.beam.sdk.io.fs.ResolveOptions;
import org.apache.beam.sdk.transforms.MapElements;
import org.apache.beam.sdk.transforms.PTransform;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.PDone;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TypeDescriptors;

/**
 * Writes a run's outputs under its folder ({@link RunLayout}): {@code manifest.jsonl} from the
 * {@link #RECORDS} (one line per item), then the removal of temporaries that killed attempts left,
 * and {@code dead-letter.jsonl} from the {@link #DEAD_LETTERS}.
 */
public final class WriteRunOutputs extends PTransform<PCollectionTuple, PDone> {
  private static final long serialVersionUID = 1L;
  public static final TupleTag<RunRecord> RECORDS = GenerateMedia.RECORDS;
  public static final TupleTag<DeadLetter> DEAD_LETTERS = new TupleTag<DeadLetter>() {};

  private final String out;

  private WriteRunOutputs(String out) {
    this.out = out;
  }

  public static WriteRunOutputs to(String out) {
    if (out == null || out.isBlank()) {
      throw new IllegalArgumentException("out: an output folder is required");
    }
    return new WriteRunOutputs(out);
  }

  @Override
  public PDone expand(PCollectionTuple input) {
    WriteFilesResult<Void> manifest =
        input
            .get(RECORDS)
            .apply(
                "RecordLines",
                MapElements.into(TypeDescriptors.strings()).via(ProtoJson::printRecord))
            .apply(
                "WriteManifest",
                TextIO.write()
                    .to(path(RunLayout.manifestPrefix()))
                    .withSuffix(".jsonl")
                    .withoutSharding()
                    .withShardNameTemplate("")
                    .<Void>withOutputFilenames());
    // Once the manifest is written every item is done: remove the temporary media and records
    // that attempts killed mid-write left behind (a lost TaskManager, a retried bundle).
    manifest
        .getPerDestinationOutputFilenames()
        .apply("RemoveTemporaries", ParDo.of(new GeneratePipeline.RemoveTemporariesFn(out)));
    input
        .get(DEAD_LETTERS)
        .apply(
            "DeadLetterLines",
            MapElements.into(TypeDescriptors.strings()).via(WriteRunOutputs::deadLetterJson))
        .apply(
            "WriteDeadLetters",
            TextIO.write()
                .to(path(RunLayout.deadLetterPrefix()))
                .withSuffix(".jsonl")
                .withoutSharding()
                .withShardNameTemplate(""));
    return PDone.in(input.getPipeline());
  }

  private String path(String name) {
    return FileSystems.matchNewResource(out, true)
        .resolve(name, ResolveOptions.StandardResolveOptions.RESOLVE_FILE)
        .toString();
  }

  static String deadLetterJson(DeadLetter letter) {
    ObjectNode node = new ObjectMapper().createObjectNode();
    node.put("source", letter.source());
    if (letter.line() > 0) {
      node.put("line", letter.line());
    }
    node.put("input", letter.input());
    node.put("error", letter.error());
    return node.toString();
  }
}
