package dev.genloom.generators.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.genloom.generators.ModelPackageException;
import dev.genloom.proto.v1.TokenizerSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A package's Hugging Face tokenizer ({@code tokenizer.json}: BPE, Unigram, WordPiece or WordLevel)
 * through DJL's binding of the Rust {@code tokenizers} library, shaped as diffusers' pipelines call
 * it: {@code padding="max_length"}, {@code max_length} from the manifest, {@code truncation=True}.
 *
 * <p>The file's normalizer, pre-tokenizer, model and post-processor apply unchanged; its own
 * padding and truncation sections do not. A longer prompt keeps its first tokens and the special
 * tokens the post-processor adds (CLIP: the end-of-text token stays last), and {@link
 * Encoded#droppedTokens()} says how many were cut. Padding uses the manifest's {@code pad_id}, not
 * DJL's default of 0.
 *
 * <p>Thread-safe. Closing releases the native tokenizers.
 */
public final class PromptTokenizer implements AutoCloseable {
  private final Path file;
  private final TokenizerSpec spec;
  private final HuggingFaceTokenizer truncating;
  private final HuggingFaceTokenizer counting;

  /** The ids of one sequence, padded to {@code max_length}, and how many tokens truncation cut. */
  public record Encoded(long[] ids, int droppedTokens) {
    public Encoded {
      ids = ids.clone();
    }

    @Override
    public long[] ids() {
      return ids.clone();
    }
  }

  private PromptTokenizer(
      Path file,
      TokenizerSpec spec,
      HuggingFaceTokenizer truncating,
      HuggingFaceTokenizer counting) {
    this.file = file;
    this.spec = spec;
    this.truncating = truncating;
    this.counting = counting;
  }

  /**
   * Loads {@code file} shaped by the manifest's {@code spec} and checks the two agree (special
   * tokens, lower-casing). Every failure names the file.
   */
  public static PromptTokenizer load(Path file, TokenizerSpec spec) {
    if (!Files.isRegularFile(file)) {
      throw new ModelPackageException("tokenizer file is missing: " + file);
    }
    if (spec.getMaxLength() < 2) {
      throw new ModelPackageException(
          file + ": tokenizer max_length must be at least 2, got " + spec.getMaxLength());
    }
    HuggingFaceTokenizer truncating = null;
    HuggingFaceTokenizer counting = null;
    try {
      truncating =
          HuggingFaceTokenizer.builder()
              .optTokenizerPath(file)
              .optAddSpecialTokens(true)
              .optPadding(false)
              .optTruncation(true)
              .optMaxLength(spec.getMaxLength())
              .build();
      counting =
          HuggingFaceTokenizer.builder()
              .optTokenizerPath(file)
              .optAddSpecialTokens(true)
              .optPadding(false)
              .optTruncation(false)
              .build();
    } catch (IOException | RuntimeException e) {
      if (truncating != null) {
        truncating.close();
      }
      throw new ModelPackageException("cannot load tokenizer " + file + ": " + e.getMessage(), e);
    }
    PromptTokenizer tokenizer = new PromptTokenizer(file, spec, truncating, counting);
    try {
      tokenizer.checkAgainstSpec();
    } catch (RuntimeException e) {
      tokenizer.close();
      throw e;
    }
    return tokenizer;
  }

  private void checkAgainstSpec() {
    long[] empty = raw(truncating, "");
    long[] expected =
        Arrays.stream(new long[] {spec.getBosId(), spec.getEosId()})
            .filter(id -> id != 0)
            .toArray();
    if (empty.length < expected.length
        || !Arrays.equals(Arrays.copyOf(empty, expected.length), expected)) {
      throw new ModelPackageException(
          file
              + ": the empty prompt encodes to "
              + Arrays.toString(empty)
              + " but the manifest's bos_id/eos_id say it starts with "
              + Arrays.toString(expected));
    }
    if (spec.getLowercase() && !Arrays.equals(raw(counting, "A Z"), raw(counting, "a z"))) {
      throw new ModelPackageException(
          file + ": the manifest says the tokenizer lower-cases, but its normalizer does not");
    }
  }

  private static long[] raw(HuggingFaceTokenizer tokenizer, String text) {
    return tokenizer.encode(text).getIds();
  }

  public Path file() {
    return file;
  }

  /** Ids per sequence, special tokens included. */
  public int maxLength() {
    return spec.getMaxLength();
  }

  /** Tokens {@code text} needs without truncation, special tokens included. */
  public synchronized int countTokens(String text) {
    return raw(counting, text).length;
  }

  /** {@code text} truncated and padded to {@link #maxLength()}. */
  public synchronized Encoded encode(String text) {
    long[] kept = raw(truncating, text);
    int needed = raw(counting, text).length;
    if (kept.length > spec.getMaxLength()) {
      throw new IllegalStateException(
          file + ": truncation kept " + kept.length + " ids, more than " + spec.getMaxLength());
    }
    long[] ids = Arrays.copyOf(kept, spec.getMaxLength());
    Arrays.fill(ids, kept.length, ids.length, spec.getPadId());
    return new Encoded(ids, Math.max(needed - kept.length, 0));
  }

  /**
   * {@code text} padded to {@link #maxLength()}; with {@code refuse}, a text that does not fit is
   * refused rather than truncated.
   *
   * @param field the request field holding {@code text}, named by the refusal
   * @throws PromptTooLongException when {@code refuse} and it needs more than {@link #maxLength()}
   */
  public Encoded encode(String text, boolean refuse, String field) {
    Encoded encoded = encode(text);
    if (refuse && encoded.droppedTokens() > 0) {
      throw new PromptTooLongException(field, countTokens(text), spec.getMaxLength());
    }
    return encoded;
  }

  @Override
  public synchronized void close() {
    truncating.close();
    counting.close();
  }
}
