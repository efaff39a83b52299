package dev.genloom.generators.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.genloom.generators.ModelPackageException;
import dev.genloom.proto.v1.TokenizerSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * A word-level tokenizer read from a Hugging Face {@code tokenizer.json} ({@code WordLevel} model):
 * optional lower-casing, whitespace splitting, vocabulary lookup with an unknown-token fallback.
 * Sequences are {@code [BOS] words [EOS]} right-padded to the manifest's {@code max_length}.
 */
public final class WordLevelTokenizer {
  private final Map<String, Long> vocab;
  private final TokenizerSpec spec;

  private WordLevelTokenizer(Map<String, Long> vocab, TokenizerSpec spec) {
    this.vocab = vocab;
    this.spec = spec;
  }

  /** Loads {@code file} configured by the manifest's {@code spec}; errors name the file. */
  public static WordLevelTokenizer load(Path file, TokenizerSpec spec) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(file.toFile());
    } catch (IOException e) {
      throw new ModelPackageException("cannot read tokenizer " + file + ": " + e.getMessage(), e);
    }
    JsonNode model = root == null ? null : root.get("model");
    if (model == null || !"WordLevel".equals(model.path("type").asText())) {
      throw new ModelPackageException(
          file + ": expected a tokenizer whose model.type is WordLevel");
    }
    JsonNode vocabNode = model.get("vocab");
    if (vocabNode == null || !vocabNode.isObject() || vocabNode.size() == 0) {
      throw new ModelPackageException(file + ": model.vocab is missing or empty");
    }
    Map<String, Long> vocab = new HashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      vocab.put(entry.getKey(), entry.getValue().asLong());
    }
    if (spec.getMaxLength() < 2) {
      throw new ModelPackageException(file + ": tokenizer max_length must be at least 2");
    }
    return new WordLevelTokenizer(Map.copyOf(vocab), spec);
  }

  public int maxLength() {
    return spec.getMaxLength();
  }

  public int vocabularySize() {
    return vocab.size();
  }

  /** Number of tokens {@code prompt} needs, special tokens included. */
  public int countTokens(String prompt) {
    return words(prompt).length + 2;
  }

  /**
   * Token ids for {@code prompt}, padded to {@link #maxLength()}.
   *
   * @throws PromptTooLongException when the prompt does not fit
   */
  public long[] encode(String prompt) {
    String[] words = words(prompt);
    int needed = words.length + 2;
    if (needed > spec.getMaxLength()) {
      throw new PromptTooLongException(needed, spec.getMaxLength());
    }
    long[] ids = new long[spec.getMaxLength()];
    java.util.Arrays.fill(ids, spec.getPadId());
    ids[0] = spec.getBosId();
    for (int i = 0; i < words.length; i++) {
      ids[i + 1] = vocab.getOrDefault(words[i], spec.getUnkId());
    }
    ids[words.length + 1] = spec.getEosId();
    return ids;
  }

  private String[] words(String prompt) {
    String text = spec.getLowercase() ? prompt.toLowerCase(Locale.ROOT) : prompt;
    String stripped = text.strip();
    return stripped.isEmpty() ? new String[0] : stripped.split("\\s+");
  }
}
