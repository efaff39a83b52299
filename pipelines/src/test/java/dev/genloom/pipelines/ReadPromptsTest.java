package dev.genloom.pipelines;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.testing.PAssert;
import org.apache.beam.sdk.values.PCollectionTuple;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReadPromptsTest {
  @TempDir Path dir;

  private static Pipeline pipeline() {
    return Pipeline.create(PipelineOptionsFactory.fromArgs("--runner=DirectRunner").create());
  }

  @Test
  void jsonlWithMalformedLinesSendsThemToDeadLettersWithLineNumbers() throws Exception {
    Path file = dir.resolve("prompts.jsonl");
    Files.writeString(
        file,
        "{\"prompt\": \"a red circle on a blue background\", \"id\": \"p1\"}\n"
            + "{\"prompt\": \n"
            + "\n"
            + "{\"id\": \"p3\"}\n"
            + "{\"prompt\": \"a green square on a white background\","
            + " \"negative_prompt\": \"blurry\"}\n");
    String source = file.toString();
    Pipeline p = pipeline();
    PCollectionTuple out = p.apply(ReadPrompts.from(source));

    PAssert.that(out.get(ReadPrompts.ITEMS))
        .containsInAnyOrder(
            new PromptItem(source, 1, "p1", "a red circle on a blue background", "", ""),
            new PromptItem(source, 5, "", "a green square on a white background", "blurry", ""));
    PAssert.that(out.get(ReadPrompts.DEAD_LETTERS))
        .satisfies(
            letters -> {
              java.util.Map<Long, String> byLine = new java.util.TreeMap<>();
              letters.forEach(l -> byLine.put(l.line(), l.error()));
              org.junit.jupiter.api.Assertions.assertEquals(
                  java.util.List.of(2L, 4L), java.util.List.copyOf(byLine.keySet()));
              org.junit.jupiter.api.Assertions.assertTrue(
                  byLine.get(2L).startsWith("not valid JSON"), byLine.get(2L));
              org.junit.jupiter.api.Assertions.assertTrue(
                  byLine.get(4L).contains("\"prompt\""), byLine.get(4L));
              return null;
            });
    p.run().waitUntilFinish();
  }

  @Test
  void textAndTsvFormats() throws Exception {
    Path text = dir.resolve("prompts.txt");
    Files.writeString(
        text,
        "# shapes\na red circle on a blue background\n\n  a blue square on a red background \n");
    Path tsv = dir.resolve("parti.tsv");
    Files.writeString(tsv, "Prompt\tCategory\nan orange triangle on a black background\tShapes\n");
    Pipeline p = pipeline();
    PAssert.that(p.apply("text", ReadPrompts.from(text.toString())).get(ReadPrompts.ITEMS))
        .containsInAnyOrder(
            new PromptItem(text.toString(), 2, "", "a red circle on a blue background", "", ""),
            new PromptItem(text.toString(), 4, "", "a blue square on a red background", "", ""));
    PAssert.that(p.apply("tsv", ReadPrompts.from(tsv.toString())).get(ReadPrompts.ITEMS))
        .containsInAnyOrder(
            new PromptItem(
                tsv.toString(), 2, "", "an orange triangle on a black background", "", ""));
    p.run().waitUntilFinish();
  }

  @Test
  void jsonlPerItemConfigurationsAndOverrides() throws Exception {
    Path file = dir.resolve("items.jsonl");
    Files.writeString(
        file,
        "{\"prompt\": \"a red circle on a blue background\", \"configs\": [\"a\", \"b\"],"
            + " \"steps\": 8, \"guidance_scale\": 2.5, \"seeds\": 3}\n"
            + "{\"prompt\": \"a red circle on a blue background\", \"steps\": 0}\n"
            + "{\"prompt\": \"a red circle on a blue background\", \"configs\": \"a\"}\n"
            + "{\"prompt\": \"a red circle on a blue background\", \"guidance_scale\": \"x\"}\n");
    String source = file.toString();
    Pipeline p = pipeline();
    PCollectionTuple out = p.apply(ReadPrompts.from(source));
    PAssert.that(out.get(ReadPrompts.ITEMS))
        .containsInAnyOrder(
            new PromptItem(
                source,
                1,
                "",
                "a red circle on a blue background",
                "",
                "",
                new ItemOverrides(java.util.List.of("a", "b"), 8, 2.5, 3)));
    PAssert.that(out.get(ReadPrompts.DEAD_LETTERS))
        .satisfies(
            letters -> {
              java.util.Map<Long, String> byLine = new java.util.TreeMap<>();
              letters.forEach(l -> byLine.put(l.line(), l.error()));
              org.junit.jupiter.api.Assertions.assertEquals(
                  java.util.List.of(2L, 3L, 4L), java.util.List.copyOf(byLine.keySet()));
              org.junit.jupiter.api.Assertions.assertTrue(
                  byLine.get(2L).contains("\"steps\" must be in 1..1000"), byLine.get(2L));
              org.junit.jupiter.api.Assertions.assertTrue(
                  byLine.get(3L).contains("\"configs\" must be a list"), byLine.get(3L));
              org.junit.jupiter.api.Assertions.assertTrue(
                  byLine.get(4L).contains("\"guidance_scale\""), byLine.get(4L));
              return null;
            });
    p.run().waitUntilFinish();
  }

  @Test
  void binaryLinesUnknownKeysAndControlCharactersAreDeadLetteredWithTheReason() throws Exception {
    Path binary = dir.resolve("random.txt");
    byte[] bytes = new byte[4096];
    new java.util.Random(7).nextBytes(bytes);
    byte[] good = "a red circle on a blue background\n".getBytes(StandardCharsets.UTF_8);
    byte[] all = new byte[good.length + bytes.length];
    System.arraycopy(good, 0, all, 0, good.length);
    System.arraycopy(bytes, 0, all, good.length, bytes.length);
    Files.write(binary, all);
    Path jsonl = dir.resolve("items.jsonl");
    Files.writeString(
        jsonl,
        "{\"prompt\": \"a green square\", \"step\": 3}\n"
            + "{\"prompt\": \"a blue square\", \"unknown_field\": true}\n"
            + "{\"prompt\": \"a red square\"}\n");
    Pipeline p = pipeline();
    PCollectionTuple text = p.apply("Binary", ReadPrompts.from(binary.toString()));
    PCollectionTuple items = p.apply("Items", ReadPrompts.from(jsonl.toString()));
    PAssert.that(text.get(ReadPrompts.ITEMS))
        .containsInAnyOrder(
            new PromptItem(binary.toString(), 1, "", "a red circle on a blue background", "", ""));
    PAssert.that(text.get(ReadPrompts.DEAD_LETTERS))
        .satisfies(
            letters -> {
              int count = 0;
              for (DeadLetter letter : letters) {
                count++;
                org.junit.jupiter.api.Assertions.assertTrue(
                    letter.error().contains("not valid UTF-8")
                        || letter.error().contains("control character"),
                    letter.error());
              }
              org.junit.jupiter.api.Assertions.assertTrue(count > 0, "random bytes dead-lettered");
              return null;
            });
    PAssert.that(items.get(ReadPrompts.DEAD_LETTERS))
        .satisfies(
            letters -> {
              java.util.Map<Long, String> byLine = new java.util.TreeMap<>();
              letters.forEach(l -> byLine.put(l.line(), l.error()));
              org.junit.jupiter.api.Assertions.assertEquals(
                  java.util.List.of(1L, 2L), java.util.List.copyOf(byLine.keySet()));
              org.junit.jupiter.api.Assertions.assertTrue(
                  byLine.get(1L).contains("did you mean \"steps\"?"), byLine.get(1L));
              org.junit.jupiter.api.Assertions.assertTrue(
                  byLine.get(2L).contains("unknown key \"unknown_field\""), byLine.get(2L));
              return null;
            });
    p.run().waitUntilFinish();
  }
}
