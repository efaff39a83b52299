package dev.genloom.generators.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.genloom.generators.ModelPackageException;
import dev.genloom.proto.v1.TokenizerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hugging Face tokenizers through DJL: ids of a CLIP-format BPE, a T5-style Unigram and a
 * BERT-style WordPiece tokenizer equal those of pure-Python reference encoders written from the
 * published algorithms (recorded in {@code cases.json}), and the shipped word-level tokenizer keeps
 * working.
 */
class PromptTokenizerTest {
  static final Path RESOURCES = Path.of("src", "test", "resources", "tokenizers");
  static final Path TINY_LDM = Path.of("..", "models", "tiny-ldm", "tokenizer.json");
  static final TokenizerSpec TINY_SPEC =
      TokenizerSpec.newBuilder()
          .setFile("tokenizer.json")
          .setMaxLength(16)
          .setBosId(2)
          .setEosId(3)
          .setUnkId(1)
          .setLowercase(true)
          .build();

  @ParameterizedTest
  @ValueSource(strings = {"clip", "unigram", "wordpiece"})
  void idsEqualTheReferenceEncoder(String name) throws Exception {
    Path folder = RESOURCES.resolve(name);
    JsonNode cases = new ObjectMapper().readTree(folder.resolve("cases.json").toFile());
    int maxLength = cases.get("max_length").asInt();
    TokenizerSpec spec =
        TokenizerSpec.newBuilder()
            .setFile(cases.get("tokenizer").asText())
            .setMaxLength(maxLength)
            .setPadId(cases.get("pad_id").asLong())
            .build();
    int truncatedCases = 0;
    try (PromptTokenizer tokenizer =
        PromptTokenizer.load(folder.resolve(cases.get("tokenizer").asText()), spec)) {
      assertTrue(cases.get("cases").size() >= 8, name + " has a real prompt set");
      for (JsonNode c : cases.get("cases")) {
        String text = c.get("text").asText();
        long[] expected = new long[c.get("ids").size()];
        for (int i = 0; i < expected.length; i++) {
          expected[i] = c.get("ids").get(i).asLong();
        }
        PromptTokenizer.Encoded encoded = tokenizer.encode(text);
        assertArrayEquals(expected, encoded.ids(), name + ": '" + text + "'");
        int untruncated = c.get("untruncated_length").asInt();
        assertEquals(untruncated, tokenizer.countTokens(text), name + ": count of '" + text + "'");
        assertEquals(
            Math.max(untruncated - maxLength, 0),
            encoded.droppedTokens(),
            name + ": dropped tokens of '" + text + "'");
        if (encoded.droppedTokens() > 0) {
          truncatedCases++;
          PromptTooLongException refused =
              assertThrows(
                  PromptTooLongException.class, () -> tokenizer.encode(text, true, "prompt"));
          assertTrue(refused.getMessage().startsWith("prompt: needs " + untruncated + " tokens"));
        }
      }
    }
    assertTrue(truncatedCases > 0, name + ": the prompt set holds an over-long prompt");
  }

  @Test
  void shippedWordLevelTokenizerPadsAndTruncatesAsDiffusersWould() {
    try (PromptTokenizer tokenizer = PromptTokenizer.load(TINY_LDM, TINY_SPEC)) {
      PromptTokenizer.Encoded short1 = tokenizer.encode("A Red circle");
      assertEquals(16, short1.ids().length);
      assertEquals(0, short1.droppedTokens());
      assertArrayEquals(new long[] {2, 4, 11, 8, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, short1.ids());
      String words = "a red circle on a blue background " + "circle ".repeat(14);
      PromptTokenizer.Encoded cut = tokenizer.encode(words);
      assertEquals(16, cut.ids().length);
      assertEquals(3, cut.ids()[15], "the end-of-sequence token is kept last");
      assertEquals(words.strip().split("\\s+").length + 2 - 16, cut.droppedTokens());
      assertThrows(
          PromptTooLongException.class, () -> tokenizer.encode(words, true, "negative_prompt"));
    }
  }

  @Test
  void padIdComesFromTheManifest() {
    try (PromptTokenizer tokenizer =
        PromptTokenizer.load(TINY_LDM, TINY_SPEC.toBuilder().setPadId(1).build())) {
      long[] ids = tokenizer.encode("red").ids();
      assertEquals(1, ids[15]);
      assertEquals(3, ids[2]);
    }
  }

  @Test
  void manifestThatDisagreesWithTheFileIsRefused(@TempDir Path dir) throws Exception {
    ModelPackageException wrongEos =
        assertThrows(
            ModelPackageException.class,
            () -> PromptTokenizer.load(TINY_LDM, TINY_SPEC.toBuilder().setEosId(7).build()));
    assertTrue(wrongEos.getMessage().contains("eos_id"), wrongEos.getMessage());
    Path broken = dir.resolve("tokenizer.json");
    Files.writeString(broken, "{\"model\": {\"type\": \"Nonsense\"}}");
    ModelPackageException bad =
        assertThrows(ModelPackageException.class, () -> PromptTokenizer.load(broken, TINY_SPEC));
    assertTrue(bad.getMessage().contains(broken.toString()), bad.getMessage());
    ModelPackageException missing =
        assertThrows(
            ModelPackageException.class,
            () -> PromptTokenizer.load(dir.resolve("absent.json"), TINY_SPEC));
    assertTrue(missing.getMessage().contains("absent.json"));
    assertThrows(
        ModelPackageException.class,
        () -> PromptTokenizer.load(TINY_LDM, TINY_SPEC.toBuilder().setMaxLength(1).build()));
  }

  @Test
  void encodedIdsAreCopies() {
    try (PromptTokenizer tokenizer = PromptTokenizer.load(TINY_LDM, TINY_SPEC)) {
      PromptTokenizer.Encoded e = tokenizer.encode("red");
      long[] ids = e.ids();
      Arrays.fill(ids, 9);
      assertEquals(2, e.ids()[0]);
    }
  }
}
