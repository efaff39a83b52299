package dev.genloom.pipelines;

import dev.genloom.proto.v1.GeneratorConfig;
import dev.genloom.proto.v1.PromptOverflow;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.coders.KvCoder;
import org.apache.beam.sdk.coders.SerializableCoder;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.io.FileSystems;
import org.apache.beam.sdk.io.fs.EmptyMatchTreatment;
import org.apache.beam.sdk.io.fs.MatchResult;
import org.apache.beam.sdk.io.fs.ResourceId;
import org.apache.beam.sdk.metrics.Counter;
import org.apache.beam.sdk.metrics.Metrics;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.transforms.DoFn;
import org.apache.beam.sdk.transforms.Flatten;
import org.apache.beam.sdk.transforms.GroupByKey;
import org.apache.beam.sdk.transforms.ParDo;
import org.apache.beam.sdk.transforms.SerializableFunction;
import org.apache.beam.sdk.transforms.WithKeys;
import org.apache.beam.sdk.values.KV;
import org.apache.beam.sdk.values.PCollection;
import org.apache.beam.sdk.values.PCollectionList;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.apache.beam.sdk.values.TupleTag;
import org.apache.beam.sdk.values.TupleTagList;

/**
 * The batch generation job: prompts x seeds x generator configurations, fanned out to a worker
 * fleet over gRPC, with media named by deterministic request ids, one {@code manifest.jsonl} line
 * per item and one {@code dead-letter.jsonl} line per failed input or item. Each finished item's
 * record is written beside its media as it lands ({@link ItemRecords}); re-running the same launch
 * after a crash skips every item whose record and media exist.
 */
public final class GeneratePipeline {

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
    try {
      ItemRecords.removeTemporaries(options.getOut());
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "out: cannot remove the temporary files of an earlier run in "
              + options.getOut()
              + ": "
              + e.getMessage(),
          e);
    }
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

  static void build(Pipeline pipeline, GeneratePipelineOptions options) {
    if (options.getSeeds() < 1) {
      throw new IllegalArgumentException("seeds: must be >= 1");
    }
    // every setting is checked here, before any path or input is looked at
    GenerateMedia generate =
        GenerateMedia.to(options.getWorkers(), options.getOut())
            .withBatchSize(options.getBatchSize())
            .withMaxInFlight(options.getMaxInFlight())
            .withRetries(options.getMaxAttempts(), options.getInitialBackoffMillis())
            .withCallDeadlineSeconds(options.getCallDeadlineSeconds())
            .withWorkerCalls(options.getWorkerCalls())
            .withSecurity(WorkerSecurity.from(options));
    checkPaths(options);
    List<GeneratorConfig> configs = configs(options);
    List<byte[]> serializedConfigs = new ArrayList<>();
    configs.forEach(c -> serializedConfigs.add(c.toByteArray()));

    PCollectionTuple inputs = pipeline.apply("ReadPrompts", ReadPrompts.from(options.getPrompts()));

    PCollection<PromptItem> items = inputs.get(ReadPrompts.ITEMS);
    if (options.getReferenceDir() != null && !options.getReferenceDir().isBlank()) {
      items =
          items
              .apply("ReferencesById", ParDo.of(new ReferenceByIdFn(options.getReferenceDir())))
              .setCoder(WorkItemCoder.Prompts.of());
    }
    PCollectionTuple expanded =
        items.apply(
            "Expand",
            ParDo.of(new ExpandFn(serializedConfigs, options.getSeeds()))
                .withOutputTags(ExpandFn.WORK, TupleTagList.of(ExpandFn.UNMATCHED)));
    // Items finished by an earlier run are not skipped here: GenerateFn finds their records, so a
    // rerun and a retried bundle take the same path.
    PCollection<WorkItem> work =
        expanded
            .get(ExpandFn.WORK)
            .setCoder(WorkItemCoder.Work.of())
            .apply(
                "KeyByRequestGroup",
                WithKeys.of((SerializableFunction<WorkItem, String>) MergeDuplicatesFn::group))
            .setCoder(KvCoder.of(StringUtf8Coder.of(), WorkItemCoder.Work.of()))
            .apply("SameRequestGroup", GroupByKey.create())
            .apply("MergeDuplicates", ParDo.of(new MergeDuplicatesFn()))
            .setCoder(WorkItemCoder.Work.of());

    PCollectionTuple results = work.apply("GenerateMedia", generate);

    PCollection<DeadLetter> rejected =
        PCollectionList.of(
                inputs
                    .get(ReadPrompts.DEAD_LETTERS)
                    .setCoder(SerializableCoder.of(DeadLetter.class)))
            .and(expanded.get(ExpandFn.UNMATCHED).setCoder(SerializableCoder.of(DeadLetter.class)))
            .apply("RejectedInputs", Flatten.pCollections())
            .apply("CountRejected", ParDo.of(new CountFn<DeadLetter>("rejected")))
            .setCoder(SerializableCoder.of(DeadLetter.class));
    PCollection<DeadLetter> deadLetters =
        PCollectionList.of(rejected)
            .and(results.get(GenerateMedia.FAILURES))
            .apply("AllDeadLetters", Flatten.pCollections())
            .setCoder(SerializableCoder.of(DeadLetter.class));
    PCollectionTuple.of(WriteRunOutputs.RECORDS, results.get(GenerateMedia.RECORDS))
        .and(WriteRunOutputs.DEAD_LETTERS, deadLetters)
        .apply("WriteRunOutputs", WriteRunOutputs.to(options.getOut()));
  }

  /**
   * Refuses, before anything runs, a prompt pattern that matches nothing, a folder or empty files
   * given as the prompts, and an output path that is a file.
   */
  public static void checkPaths(GeneratePipelineOptions options) {
    String prompts = options.getPrompts();
    if (prompts == null || prompts.isBlank()) {
      throw new IllegalArgumentException("prompts: a file or pattern is required");
    }
    if (isLocal(prompts) && java.nio.file.Files.isDirectory(java.nio.file.Path.of(prompts))) {
      throw new IllegalArgumentException(
          "prompts: " + prompts + " is a folder; give a prompt file (.txt, .jsonl or .tsv)");
    }
    MatchResult match;
    try {
      match = FileSystems.match(prompts, EmptyMatchTreatment.ALLOW);
    } catch (IOException | IllegalArgumentException e) {
      throw new IllegalArgumentException("prompts: cannot read " + prompts + ": " + e.getMessage());
    }
    List<MatchResult.Metadata> files;
    try {
      files = match.status() == MatchResult.Status.OK ? match.metadata() : List.of();
    } catch (IOException e) {
      throw new IllegalArgumentException("prompts: cannot read " + prompts + ": " + e.getMessage());
    }
    if (files.isEmpty()) {
      throw new IllegalArgumentException("prompts: no file matches " + prompts);
    }
    if (files.stream().allMatch(m -> m.sizeBytes() == 0)) {
      throw new IllegalArgumentException("prompts: " + prompts + " is empty");
    }
    String out = options.getOut();
    if (out == null || out.isBlank()) {
      throw new IllegalArgumentException("out: an output folder is required");
    }
    if (isLocal(out) && java.nio.file.Files.isRegularFile(java.nio.file.Path.of(out))) {
      throw new IllegalArgumentException("out: " + out + " is a file; give a folder");
    }
  }

  /** Whether a path names the local file system (no {@code scheme://} prefix). */
  public static boolean isLocal(String spec) {
    return !spec.matches("^[A-Za-z][A-Za-z0-9+.-]*://.*");
  }

  /** Removes what killed attempts left half-written, once the manifest exists. */
  static final class RemoveTemporariesFn extends DoFn<KV<Void, String>, Void> {
    private static final long serialVersionUID = 1L;
    private final String out;

    RemoveTemporariesFn(String out) {
      this.out = out;
    }

    @ProcessElement
    public void process(@Element KV<Void, String> written) throws IOException {
      ItemRecords.removeItemTemporaries(out);
    }
  }

  /**
   * Expands a prompt into one work item per seed and configuration it selects, with its overrides
   * applied. An item that selects no configuration of the launch goes to the dead letters.
   */
  static final class ExpandFn extends DoFn<PromptItem, WorkItem> {
    private static final long serialVersionUID = 1L;
    static final TupleTag<WorkItem> WORK = new TupleTag<>() {};
    static final TupleTag<DeadLetter> UNMATCHED = new TupleTag<>() {};
    private final List<byte[]> configs;
    private final int seeds;
    // parsed once per DoFn instance, not per prompt
    private transient List<GeneratorConfig> parsed;

    ExpandFn(List<byte[]> configs, int seeds) {
      this.configs = configs;
      this.seeds = seeds;
    }

    @Setup
    public void setup() throws com.google.protobuf.InvalidProtocolBufferException {
      List<GeneratorConfig> list = new ArrayList<>();
      for (byte[] bytes : configs) {
        list.add(GeneratorConfig.parseFrom(bytes));
      }
      parsed = List.copyOf(list);
    }

    @ProcessElement
    public void process(@Element PromptItem item, MultiOutputReceiver out) {
      ItemOverrides overrides = item.overrides();
      List<String> ids = new ArrayList<>();
      int selected = 0;
      for (GeneratorConfig config : parsed) {
        ids.add(config.getId());
        if (!overrides.selects(config.getId())) {
          continue;
        }
        selected++;
        GeneratorConfig effective = overrides.apply(config);
        for (int seed = 0; seed < overrides.seedsOr(seeds); seed++) {
          out.get(WORK).output(WorkItem.of(item, seed, effective));
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

  /**
   * Merges work items with the same request id (the same content under two item ids) into one, the
   * first in source order, and counts the others as {@code merged}. Items arrive grouped by {@link
   * #group}, one of {@link #GROUPS} buckets of request ids, not one group per request id: a local
   * runner makes a bundle of each group, and one bundle per item costs more than the item's own
   * work.
   */
  static final class MergeDuplicatesFn extends DoFn<KV<String, Iterable<WorkItem>>, WorkItem> {
    private static final long serialVersionUID = 1L;
    static final int GROUPS = 64;
    private final Counter merged = Metrics.counter("genloom", "merged");

    /** The bucket of a request id. */
    static String group(WorkItem item) {
      return Integer.toString(Math.floorMod(item.requestId().hashCode(), GROUPS));
    }

    @ProcessElement
    public void process(
        @Element KV<String, Iterable<WorkItem>> bucket, OutputReceiver<WorkItem> out) {
      Map<String, WorkItem> first = new HashMap<>();
      long count = 0;
      for (WorkItem item : bucket.getValue()) {
        count++;
        first.merge(item.requestId(), item, (a, b) -> order(b, a) < 0 ? b : a);
      }
      merged.inc(count - first.size());
      first.values().forEach(out::output);
    }

    private static int order(WorkItem a, WorkItem b) {
      int bySource = a.item().source().compareTo(b.item().source());
      if (bySource != 0) {
        return bySource;
      }
      int byLine = Long.compare(a.item().line(), b.item().line());
      return byLine != 0 ? byLine : a.item().id().compareTo(b.item().id());
    }
  }

  /** Passes elements through and counts them under {@code genloom/NAME}. */
  static final class CountFn<T> extends DoFn<T, T> {
    private static final long serialVersionUID = 1L;
    private final Counter counter;

    CountFn(String name) {
      this.counter = Metrics.counter("genloom", name);
    }

    @ProcessElement
    public void process(@Element T element, OutputReceiver<T> out) {
      counter.inc();
      out.output(element);
    }
  }
}
