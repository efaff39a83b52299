package dev.genloom.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.proto.v1.GeneratorConfig;
import dev.genloom.proto.v1.Sampler;
import java.util.List;
import org.junit.jupiter.api.Test;

class GeneratorConfigsTest {
  @Test
  void oneGridIsTheCrossProductOfItsAxes() {
    List<GeneratorConfig> configs =
        GeneratorConfigs.parse(
            "{\"models\": [\"tiny-ldm\"], \"samplers\": [\"ddim\", \"dpmpp2m\"], \"steps\": [10,"
                + " 20], \"cache\": [\"none\", \"auto\"]}",
            "grid.json");
    assertEquals(8, configs.size());
    assertEquals("tiny-ldm_ddim_10_none", configs.get(0).getId());
    assertEquals(Sampler.SAMPLER_DPMPP_2M, configs.get(7).getSampler());
    assertEquals(20, configs.get(7).getSteps());
  }

  @Test
  void aListOfGridsConcatenatesAndLabelsKeepOneModelsGridsApart() {
    List<GeneratorConfig> configs =
        GeneratorConfigs.parse(
            "[{\"models\": [\"tiny-ldm\"], \"cache\": [\"none\", \"auto\"]},"
                + " {\"label\": \"t2v\", \"models\": [\"tiny-dit-video\"], \"cache\": [\"fora:2\"]},"
                + " {\"label\": \"i2v\", \"models\": [\"tiny-dit-video\"]}]",
            "grid.json");
    assertEquals(
        List.of("tiny-ldm_none", "tiny-ldm_auto", "t2v_fora-2", "i2v"),
        configs.stream().map(GeneratorConfig::getId).toList());
    assertEquals("tiny-dit-video", configs.get(3).getModel());
    assertEquals(2, configs.get(2).getCachePolicy().getFora().getInterval());
  }

  @Test
  void duplicateIdsAndBadLabelsAreRefusedByName() {
    IllegalArgumentException twice =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                GeneratorConfigs.parse(
                    "[{\"models\": [\"tiny-ldm\"]}, {\"models\": [\"tiny-ldm\"]}]", "g.json"));
    assertTrue(twice.getMessage().contains("'tiny-ldm' appears twice"), twice.getMessage());
    IllegalArgumentException label =
        assertThrows(
            IllegalArgumentException.class,
            () -> GeneratorConfigs.parse("{\"label\": \"a/b\", \"models\": [\"m\"]}", "g.json"));
    assertTrue(label.getMessage().contains("label 'a/b'"), label.getMessage());
    IllegalArgumentException scalar =
        assertThrows(IllegalArgumentException.class, () -> GeneratorConfigs.parse("3", "g.json"));
    assertTrue(scalar.getMessage().contains("grid object"), scalar.getMessage());
  }

  @Test
  void sizesAreAnAxisAndMalformedSizesAreRefused() {
    List<GeneratorConfig> configs =
        GeneratorConfigs.parse(
            "{\"models\": [\"fixture-sd15\"], \"samplers\": [\"euler_a\"],"
                + " \"sizes\": [\"64x64\", \"96X64\", \"16:9\"]}",
            "grid.json");
    assertEquals(
        List.of(
            "fixture-sd15_euler_a_64x64",
            "fixture-sd15_euler_a_96x64",
            "fixture-sd15_euler_a_16-9"),
        configs.stream().map(GeneratorConfig::getId).toList());
    assertEquals("16:9", configs.get(2).getAspectRatio());
    assertEquals(Sampler.SAMPLER_EULER_ANCESTRAL, configs.get(0).getSampler());
    assertEquals(96, configs.get(1).getWidth());
    assertEquals(64, configs.get(1).getHeight());
    for (String bad : List.of("64", "64x", "0x64", "axb", "64x64x3", "0:1", "a:b", "1:2:3")) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  GeneratorConfigs.parse(
                      "{\"models\": [\"m\"], \"sizes\": [\"" + bad + "\"]}", "grid.json"));
      assertTrue(e.getMessage().startsWith("grid: sizes"), e.getMessage());
    }
    IllegalArgumentException sampler =
        assertThrows(
            IllegalArgumentException.class,
            () -> GeneratorConfigs.parse("{\"models\": [\"m\"], \"samplers\": [\"pndm\"]}", "g"));
    assertTrue(sampler.getMessage().contains("unknown 'pndm'"), sampler.getMessage());
  }

  @Test
  void itemOverridesReplaceTheSize() {
    GeneratorConfig config = GeneratorConfig.newBuilder().setId("a").setModel("m").build();
    GeneratorConfig applied =
        new ItemOverrides(List.of(), 0, Double.NaN, 0, 96, 64, "").apply(config);
    assertEquals(96, applied.getWidth());
    assertEquals(64, applied.getHeight());
    IllegalArgumentException half =
        assertThrows(
            IllegalArgumentException.class,
            () -> new ItemOverrides(List.of(), 0, Double.NaN, 0, 96, 0, ""));
    assertTrue(half.getMessage().contains("\"width\""), half.getMessage());
    GeneratorConfig bucket =
        new ItemOverrides(List.of(), 0, Double.NaN, 0, 0, 0, "16:9")
            .apply(config.toBuilder().setWidth(64).setHeight(64).build());
    assertEquals("16:9", bucket.getAspectRatio());
    assertEquals(0, bucket.getWidth());
    IllegalArgumentException both =
        assertThrows(
            IllegalArgumentException.class,
            () -> new ItemOverrides(List.of(), 0, Double.NaN, 0, 96, 64, "16:9"));
    assertTrue(both.getMessage().contains("\"aspect_ratio\""), both.getMessage());
  }

  @Test
  void itemOverridesSelectConfigurationsAndReplaceValues() {
    GeneratorConfig config =
        GeneratorConfig.newBuilder().setId("a").setModel("tiny-ldm").setSteps(50).build();
    ItemOverrides overrides = new ItemOverrides(List.of("a"), 8, 2.5, 3);
    assertTrue(overrides.selects("a"));
    assertEquals(false, overrides.selects("b"));
    GeneratorConfig applied = overrides.apply(config);
    assertEquals(8, applied.getSteps());
    assertEquals(2.5f, applied.getGuidanceScale());
    assertEquals("a", applied.getId());
    assertEquals(3, overrides.seedsOr(1));
    assertEquals(config, ItemOverrides.NONE.apply(config));
    assertEquals(4, ItemOverrides.NONE.seedsOr(4));
  }

  @Test
  void unknownGridKeysAndZeroStepsAreRefusedByName() {
    IllegalArgumentException typo =
        assertThrows(
            IllegalArgumentException.class,
            () -> GeneratorConfigs.parse("{\"models\": [\"m\"], \"step\": [20]}", "g.json"));
    assertTrue(typo.getMessage().contains("unknown key \"step\""), typo.getMessage());
    assertTrue(typo.getMessage().contains("did you mean \"steps\"?"), typo.getMessage());
    assertTrue(typo.getMessage().contains("g.json"), typo.getMessage());
    IllegalArgumentException unknown =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                GeneratorConfigs.parse(
                    "[{\"models\": [\"m\"]}, {\"models\": [\"m\"], \"label\": \"b\","
                        + " \"unknown_field\": 1}]",
                    "g.json"));
    assertTrue(unknown.getMessage().contains("\"unknown_field\""), unknown.getMessage());
    IllegalArgumentException zero =
        assertThrows(
            IllegalArgumentException.class,
            () -> GeneratorConfigs.parse("{\"models\": [\"m\"], \"steps\": [0]}", "g.json"));
    assertTrue(zero.getMessage().contains("steps must be in 1..1000"), zero.getMessage());
  }

  @Test
  void aGridEntryNamesItsBaselineWhichMustExistAndDoesNotChangeRequestIds() {
    List<GeneratorConfig> configs =
        GeneratorConfigs.parse(
            "[{\"label\": \"t2v\", \"models\": [\"m\"], \"cache\": [\"none\", \"fora:2\"],"
                + " \"baseline\": \"t2v_none\"}]",
            "g.json");
    assertEquals("", configs.get(0).getBaseline(), "the baseline itself names none");
    assertEquals("t2v_none", configs.get(1).getBaseline());
    IllegalArgumentException missing =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                GeneratorConfigs.parse("{\"models\": [\"m\"], \"baseline\": \"nope\"}", "g.json"));
    assertTrue(missing.getMessage().contains("baseline 'nope'"), missing.getMessage());
    PromptItem item = new PromptItem("p.txt", 1, "", "a red circle", "", "");
    assertEquals(
        WorkItem.of(item, 0, configs.get(1).toBuilder().clearBaseline().build()).requestId(),
        WorkItem.of(item, 0, configs.get(1)).requestId());
  }

  @Test
  void budgetAndFloorAreCachePoliciesOfAGrid() {
    List<GeneratorConfig> configs =
        GeneratorConfigs.parse(
            "{\"models\": [\"m\"], \"cache\": [\"budget:2\", \"floor:psnr=30\"]}", "g.json");
    assertEquals(2.0, configs.get(0).getCachePolicy().getBudget().getSpeedup());
    assertEquals(30.0, configs.get(1).getCachePolicy().getFloor().getMinPsnrDb());
    for (GeneratorConfig config : configs) {
      assertTrue(config.getId().matches("[A-Za-z0-9._-]+"), config.getId());
    }
    IllegalArgumentException bad =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                GeneratorConfigs.parse(
                    "{\"models\": [\"m\"], \"cache\": [\"budget:1\"]}", "g.json"));
    assertTrue(bad.getMessage().startsWith("grid: cache: a budget is budget:X"), bad.getMessage());
  }
}
