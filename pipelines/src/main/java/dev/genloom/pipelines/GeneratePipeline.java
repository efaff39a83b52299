package dev.genloom.pipelines;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.proto.ProtoJson;
import dev.genloom.proto.v1.GeneratorConfig;
import dev.genloom.proto.v1.PromptOverflow;
import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.coders.KvCoder;
import org.apache.beam.sdk.coders.SerializableCoder;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.TextIO;
import org.apache.beam.sdk.io.fs.EmptyMatchTreatment;
import org.apache.beam.sdk.io.fs.MatchResult;
import org.apache.beam.sdk.io.fs.ResolveOptions;
import org.apache.beam.sdk.io.fs.ResourceId;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.transforms.Combine;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.Flatten;
import org.apache.beam.sdk.transforms.GroupIntoBatches;
import org.apache.beam.sdk.transforms.MapElements;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.SerializableFunction;
import org.apache.beam.sdk.transforms.Values;
import org.apache.beam.sdk.transforms.View;
import org.apache.beam.sdk.transforms.WithKeys;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionList;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.PCollectionView;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;
import org.apache.beam.sdk.values.TypeDescriptors;

/**
 * The batch generation job: prompts x seeds x generator configurations, fanned out to a worker
 * fleet over gRPC, with media named by deterministic request ids, one {@code manifest.jsonl} line
 * per item and one {@code dead-letter.jsonl} line per failed input. Re-running the same launch
 * skips items whose media and manifest line already exist.
 */
public final class GeneratePipeline {
  public static final String MANIFEST = "manifest.jsonl";
  public static final String DEAD_LETTER = "dead-letter.jsonl";

  private GeneratePipeline() {}

  public static void main(String[] args) {
    PipelineOptionsFactory.register(GeneratePipelineOptions.class);
    GeneratePipelineOptions options =
        PipelineOptionsFactory.fromArgs(args).withValidation().as(GeneratePipelineOptions.class);
    PipelineResult result = run(options);
    // A Dataflow (Flex Template) launch returns once the job is submitted; the job runs on.
    if (!options.getRunner().getSimpleName().equals("DataflowRunner")) {
      result.waitUntilFinish();
    }
  }

  public static PipelineResult run(GeneratePipelineOptions options) {
    Pipeline pipeline = Pipeline.create(options);
    build(pipeline, options);
    return pipeline.run();
  }

  /** The generator configurations of a launch: the grid file's, or the single model's. */
  public static List<GeneratorConfig> configs(GeneratePipelineOptions options) {
    List<GeneratorConfig> configs =
        options.getGrid() == null || options.getGrid().isBlank()
            ? GeneratorConfigs.single(options.getModel())
            : GeneratorConfigs.parse(readText(options.getGrid()), options.getGrid());
    if (!options.getRefuseLongPrompts()) {
      return configs;
    }
    return configs.stream()
        .map(c -> c.toBuilder().setPromptOverflow(PromptOverflow.PROMPT_OVERFLOW_REFUSE).build())
        .toList();
  }

  static String readText(String spec) {
    try {
      ResourceId resource = FileSystems.matchSingleFileSpec(spec).resourceId();
      try (InputStream in = Channels.newInputStream(FileSystems.open(resource))) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + spec + ": " + e.getMessage(), e);
    }
  }

  static String outPath(GeneratePipelineOptions options, String name) {
    return FileSystems.matchNewResource(options.getOut(), true)
        .resolve(name, ResolveOptions.StandardResolveOptions.RESOLVE_FILE)
        .toString();
  }

  static void build(Pipeline pipeline, GeneratePipelineOptions options) {
    if (options.getSeeds() < 1) {
      throw new IllegalArgumentException("seeds: must be >= 1");
    }
    if (options.getMaxInFlight() < 1
        || options.getBatchSize() < 1
        || options.getMaxAttempts() < 1) {
      throw new IllegalArgumentException("max-in-flight, batch size and attempts must be >= 1");
    }
    WorkerPool.parse(options.getWorkers());
    WorkerSecurity.from(options); // checks the combination before anything runs
    List<GeneratorConfig> configs = configs(options);
    List<byte[]> serializedConfigs = new ArrayList<>();
    configs.forEach(c -> serializedConfigs.add(c.toByteArray()));

    PCollectionTuple inputs = pipeline.apply("ReadPrompts", ReadPrompts.from(options.getPrompts()));

    // Items finished by an earlier run of the same launch: their manifest lines are kept as they
    // are.
    String manifestPath = outPath(options, MANIFEST);
    PCollection<KV<String, String>> previous =
        pipeline
            .apply(
                "PreviousManifest",
                TextIO.read().from(manifestPath).withEmptyMatchTreatment(EmptyMatchTreatment.ALLOW))
            .apply("KeepFinished", ParDo.of(new FinishedFn(options.getOut())))
            .setCoder(KvCoder.of(StringUtf8Coder.of(), StringUtf8Coder.of()));
    PCollectionView<Map<String, String>> finished = previous.apply("FinishedIds", View.asMap());

    PCollection<PromptItem> items = inputs.get(ReadPrompts.ITEMS);
    if (options.getReferenceDir() != null && !options.getReferenceDir().isBlank()) {
      items =
          items
              .apply("ReferencesById", ParDo.of(new ReferenceByIdFn(options.getReferenceDir())))
              .setCoder(SerializableCoder.of(PromptItem.class));
    }
    PCollectionTuple expanded =
        items.apply(
            "Expand",
            ParDo.of(new ExpandFn(serializedConfigs, options.getSeeds(), finished))
                .withSideInputs(finished)
                .withOutputTags(ExpandFn.WORK, TupleTagList.of(ExpandFn.UNMATCHED)));
    PCollection<WorkItem> work =
        expanded.get(ExpandFn.WORK).setCoder(SerializableCoder.of(WorkItem.class));

    PCollectionTuple results =
        work.apply(
                "KeyByConfig",
                WithKeys.of((SerializableFunction<WorkItem, String>) WorkItem::configId))
            .setCoder(KvCoder.of(StringUtf8Coder.of(), SerializableCoder.of(WorkItem.class)))
            .apply(
                "BatchPerConfig",
                GroupIntoBatches.<String, WorkItem>ofSize(options.getBatchSize()).withShardedKey())
            .apply(
                "Generate",
                ParDo.of(
                        new GenerateFn(
                            options.getWorkers(),
                            options.getOut(),
                            options.getMaxInFlight(),
                            options.getMaxAttempts(),
                            options.getCallDeadlineSeconds(),
                            options.getInitialBackoffMillis(),
                            WorkerSecurity.from(options)))
                    .withOutputTags(GenerateFn.RECORDS, TupleTagList.of(GenerateFn.FAILURES)));

    PCollection<KV<String, String>> fresh =
        results
            .get(GenerateFn.RECORDS)
            .setCoder(SerializableCoder.of(RunRecord.class))
            .apply(
                "RecordLines",
                MapElements.into(
                        TypeDescriptors.kvs(TypeDescriptors.strings(), TypeDescriptors.strings()))
                    .via(r -> KV.of(r.getRequestId(), ProtoJson.printRecord(r))));
    PCollectionList.of(previous)
        .and(fresh)
        .apply("AllLines", Flatten.pCollections())
        .apply("OneLinePerRequest", Combine.perKey(new PreferOk()))
        .apply("Lines", Values.create())
        .apply(
            "WriteManifest",
            TextIO.write()
                .to(outPath(options, "manifest"))
                .withSuffix(".jsonl")
                .withoutSharding()
                .withShardNameTemplate(""));

    PCollection<DeadLetter> failures =
        results.get(GenerateFn.FAILURES).setCoder(SerializableCoder.of(DeadLetter.class));
    PCollectionList.of(
            inputs.get(ReadPrompts.DEAD_LETTERS).setCoder(SerializableCoder.of(DeadLetter.class)))
        .and(expanded.get(ExpandFn.UNMATCHED).setCoder(SerializableCoder.of(DeadLetter.class)))
        .and(failures)
        .apply("AllDeadLetters", Flatten.pCollections())
        .apply(
            "DeadLetterLines",
            MapElements.into(TypeDescriptors.strings()).via(GeneratePipeline::deadLetterJson))
        .apply(
            "WriteDeadLetters",
            TextIO.write()
                .to(outPath(options, "dead-letter"))
                .withSuffix(".jsonl")
                .withoutSharding()
                .withShardNameTemplate(""));
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

  /**
   * Expands a prompt into one work item per seed and configuration it selects, with its overrides
   * applied, skipping finished ones. An item that selects no configuration of the launch goes to
   * the dead letters.
   */
  static final class ExpandFn extends DoFn<PromptItem, WorkItem> {
    private static final long serialVersionUID = 1L;
    static final TupleTag<WorkItem> WORK = new TupleTag<>() {};
    static final TupleTag<DeadLetter> UNMATCHED = new TupleTag<>() {};
    private final List<byte[]> configs;
    private final int seeds;
    private final PCollectionView<Map<String, String>> finished;

    ExpandFn(List<byte[]> configs, int seeds, PCollectionView<Map<String, String>> finished) {
      this.configs = configs;
      this.seeds = seeds;
      this.finished = finished;
    }

    @ProcessElement
    public void process(@Element PromptItem item, MultiOutputReceiver out, ProcessContext context)
        throws com.google.protobuf.InvalidProtocolBufferException {
      Map<String, String> done = context.sideInput(finished);
      ItemOverrides overrides = item.overrides();
      List<String> ids = new ArrayList<>();
      int selected = 0;
      for (byte[] bytes : configs) {
        GeneratorConfig config = GeneratorConfig.parseFrom(bytes);
        ids.add(config.getId());
        if (!overrides.selects(config.getId())) {
          continue;
        }
        selected++;
        GeneratorConfig effective = overrides.apply(config);
        for (int seed = 0; seed < overrides.seedsOr(seeds); seed++) {
          WorkItem work = WorkItem.of(item, seed, effective);
          if (!done.containsKey(work.requestId())) {
            out.get(WORK).output(work);
          }
        }
      }
      if (selected == 0) {
        out.get(UNMATCHED)
            .output(
                new DeadLetter(
                    item.source(),
                    item.line(),
                    item.prompt(),
                    "configs: none of "
                        + overrides.configs()
                        + " is a configuration of this launch; known ids: "
                        + ids));
      }
    }
  }

  /** Keeps manifest lines of items that finished with their media on disk. */
  static final class FinishedFn extends DoFn<String, KV<String, String>> {
    private static final long serialVersionUID = 1L;
    private final String out;

    FinishedFn(String out) {
      this.out = out;
    }

    @ProcessElement
    public void process(@Element String line, OutputReceiver<KV<String, String>> receiver)
        throws IOException {
      if (line.isBlank()) {
        return;
      }
      RunRecord record;
      try {
        record = ProtoJson.parseRecord(line, MANIFEST);
      } catch (IllegalArgumentException e) {
        return; // an unreadable line is regenerated, not trusted
      }
      if (!"ok".equals(record.getStatus()) || record.getMedia().isEmpty()) {
        return;
      }
      ResourceId media =
          FileSystems.matchNewResource(out, true)
              .resolve(record.getMedia(), ResolveOptions.StandardResolveOptions.RESOLVE_FILE);
      MatchResult match = FileSystems.match(media.toString(), EmptyMatchTreatment.ALLOW);
      if (match.status() == MatchResult.Status.OK && !match.metadata().isEmpty()) {
        receiver.output(KV.of(record.getRequestId(), line));
      }
    }
  }

  /** One line per request id: an ok line wins over a failed one; ties keep the smallest line. */
  static final class PreferOk implements SerializableFunction<Iterable<String>, String> {
    private static final long serialVersionUID = 1L;

    @Override
    public String apply(Iterable<String> lines) {
      String best = null;
      for (String line : lines) {
        if (best == null
            || rank(line) > rank(best)
            || (rank(line) == rank(best) && line.compareTo(best) < 0)) {
          best = line;
        }
      }
      return best;
    }

    private static int rank(String line) {
      return line.contains("\"status\":\"ok\"") ? 1 : 0;
    }
  }
}
