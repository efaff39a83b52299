package dev.genloom.generators.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.generators.ModelPackageException;
import dev.genloom.proto.v1.TokenizerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WordLevelTokenizerTest {
  @TempDir Path dir;

  private static final TokenizerSpec SPEC =
      TokenizerSpec.newBuilder()
          .setFile("tokenizer.json")
          .setMaxLength(6)
          .setPadId(0)
          .setUnkId(1)
          .setBosId(2)
          .setEosId(3)
          .setLowercase(true)
          .build();

  private WordLevelTokenizer tokenizer() throws Exception {
    Path file = dir.resolve("tokenizer.json");
    Files.writeString(
        file,
        "{\"version\":\"1.0\",\"normalizer\":{\"type\":\"Lowercase\"},"
            + "\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
            + "\"model\":{\"type\":\"WordLevel\",\"unk_token\":\"[UNK]\",\"vocab\":"
            + "{\"[PAD]\":0,\"[UNK]\":1,\"[BOS]\":2,\"[EOS]\":3,\"a\":4,\"red\":5,\"circle\":6}}}");
    return WordLevelTokenizer.load(file, SPEC);
  }

  @Test
  void encodesWithSpecialTokensPaddingAndUnknowns() throws Exception {
    assertArrayEquals(new long[] {2, 4, 5, 6, 3, 0}, tokenizer().encode("A  red circle"));
    assertArrayEquals(new long[] {2, 4, 1, 3, 0, 0}, tokenizer().encode("a teal"));
    assertArrayEquals(new long[] {2, 3, 0, 0, 0, 0}, tokenizer().encode(""));
  }

  @Test
  void refusesPromptsThatDoNotFit() throws Exception {
    PromptTooLongException e =
        assertThrows(
            PromptTooLongException.class, () -> tokenizer().encode("a red circle a red circle"));
    assertEquals(8, e.tokens());
    assertTrue(e.getMessage().contains("at most 6"), e.getMessage());
  }

  @Test
  void rejectsANonWordLevelFileNamingIt() throws Exception {
    Path file = dir.resolve("bpe.json");
    Files.writeString(file, "{\"model\":{\"type\":\"BPE\"}}");
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> WordLevelTokenizer.load(file, SPEC));
    assertTrue(e.getMessage().contains("bpe.json"), e.getMessage());
  }
}
