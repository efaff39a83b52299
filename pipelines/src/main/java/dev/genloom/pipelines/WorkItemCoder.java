package dev.genloom.pipelines;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import org.apache.beam.sdk.coders.AtomicCoder;
import org.apache.beam.sdk.coders.ByteArrayCoder;
import org.apache.beam.sdk.coders.DoubleCoder;
import org.apache.beam.sdk.coders.StringUtf8Coder;
import org.apache.beam.sdk.coders.VarIntCoder;
import org.apache.beam.sdk.coders.VarLongCoder;

/**
 * {@link PromptItem}s and {@link WorkItem}s field by field. Every work item crosses several stages;
 * Java serialization of these records was a large share of the driver's CPU per item.
 */
final class WorkItemCoder {
  private static final StringUtf8Coder TEXT = StringUtf8Coder.of();
  private static final VarLongCoder LONG = VarLongCoder.of();
  private static final VarIntCoder INT = VarIntCoder.of();
  private static final DoubleCoder DOUBLE = DoubleCoder.of();
  private static final ByteArrayCoder BYTES = ByteArrayCoder.of();

  private WorkItemCoder() {}

  /** The coder of prompt items. */
  static final class Prompts extends AtomicCoder<PromptItem> {
    private static final Prompts INSTANCE = new Prompts();

    static Prompts of() {
      return INSTANCE;
    }

    @Override
    public void encode(PromptItem item, OutputStream out) throws IOException {
      TEXT.encode(item.source(), out);
      LONG.encode(item.line(), out);
      TEXT.encode(item.id(), out);
      TEXT.encode(item.prompt(), out);
      TEXT.encode(item.negativePrompt(), out);
      TEXT.encode(item.referenceImage(), out);
      ItemOverrides o = item.overrides();
      INT.encode(o.configs().size(), out);
      for (String config : o.configs()) {
        TEXT.encode(config, out);
      }
      INT.encode(o.steps(), out);
      DOUBLE.encode(o.guidanceScale(), out);
      INT.encode(o.seeds(), out);
      INT.encode(o.width(), out);
      INT.encode(o.height(), out);
      TEXT.encode(o.aspectRatio(), out);
    }

    @Override
    public PromptItem decode(InputStream in) throws IOException {
      String source = TEXT.decode(in);
      long line = LONG.decode(in);
      String id = TEXT.decode(in);
      String prompt = TEXT.decode(in);
      String negative = TEXT.decode(in);
      String reference = TEXT.decode(in);
      int n = INT.decode(in);
      List<String> configs = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        configs.add(TEXT.decode(in));
      }
      ItemOverrides overrides =
          new ItemOverrides(
              configs,
              INT.decode(in),
              DOUBLE.decode(in),
              INT.decode(in),
              INT.decode(in),
              INT.decode(in),
              TEXT.decode(in));
      return new PromptItem(source, line, id, prompt, negative, reference, overrides);
    }

    @Override
    public void verifyDeterministic() {}
  }

  /** The coder of work items. */
  static final class Work extends AtomicCoder<WorkItem> {
    private static final Work INSTANCE = new Work();

    static Work of() {
      return INSTANCE;
    }

    @Override
    public void encode(WorkItem item, OutputStream out) throws IOException {
      Prompts.INSTANCE.encode(item.item(), out);
      LONG.encode(item.seed(), out);
      BYTES.encode(item.config(), out);
      TEXT.encode(item.configId(), out);
      TEXT.encode(item.requestId(), out);
    }

    @Override
    public WorkItem decode(InputStream in) throws IOException {
      return new WorkItem(
          Prompts.INSTANCE.decode(in),
          LONG.decode(in),
          BYTES.decode(in),
          TEXT.decode(in),
          TEXT.decode(in));
    }

    @Override
    public void verifyDeterministic() {}
  }
}
