package dev.genloom.proto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.proto.v1.Block;
import dev.genloom.proto.v1.BlockGraph;
import dev.genloom.proto.v1.CacheSchedule;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.DType;
import dev.genloom.proto.v1.LatentSpec;
import dev.genloom.proto.v1.ModelKind;
import dev.genloom.proto.v1.ModelManifest;
import dev.genloom.proto.v1.Prediction;
import dev.genloom.proto.v1.QualityFigure;
import dev.genloom.proto.v1.RunRecord;
import dev.genloom.proto.v1.SamplerDefaults;
import dev.genloom.proto.v1.TensorSpec;
import org.junit.jupiter.api.Test;

class ProtoJsonTest {

  private static ModelManifest sampleManifest() {
    return ModelManifest.newBuilder()
        .setFormat("genloom/v1")
        .setName("tiny-ldm")
        .setKind(ModelKind.MODEL_KIND_LATENT_DIFFUSION)
        .addComponents(
            Component.newBuilder()
                .setName("unet.mid_block")
                .setFile("unet.mid_block.pt")
                .addInputs(
                    TensorSpec.newBuilder()
                        .setName("h")
                        .setDtype(DType.DTYPE_FLOAT32)
                        .addShape(-1)
                        .addShape(64)
                        .addShape(2)
                        .addShape(2))
                .addOutputs(TensorSpec.newBuilder().setName("h").setDtype(DType.DTYPE_FLOAT32)))
        .setDenoiser(
            BlockGraph.newBuilder()
                .addInputs("sample")
                .addBlocks(
                    Block.newBuilder()
                        .setName("mid_block")
                        .setComponent("unet.mid_block")
                        .addInputs("h")
                        .addOutputs("h")
                        .setCacheable(true))
                .setOutput("noise_pred")
                .setPrediction(Prediction.PREDICTION_EPSILON))
        .setLatent(
            LatentSpec.newBuilder().setChannels(4).setHeight(8).setWidth(8).setScaleFactor(0.5))
        .setDefaults(
            SamplerDefaults.newBuilder().setSampler("ddim").setSteps(50).setGuidanceScale(4f))
        .addCacheSchedules(
            CacheSchedule.newBuilder()
                .setSampler("ddim")
                .setSteps(3)
                .setDelta(0.1)
                .addBlocks(
                    CacheSchedule.BlockSchedule.newBuilder()
                        .setBlock("mid_block")
                        .addCompute(true)
                        .addCompute(false)
                        .addCompute(true)))
        .addQuality(
            QualityFigure.newBuilder().setMetric("all_correct").setValue(0.9).setSamples(200))
        .putTraining("seed", "0")
        .build();
  }

  @Test
  void manifestRoundTripsThroughJson() {
    ModelManifest manifest = sampleManifest();
    String json = ProtoJson.printManifest(manifest);
    assertTrue(json.contains("\"MODEL_KIND_LATENT_DIFFUSION\""), json);
    assertTrue(json.contains("\"scaleFactor\""), json);
    assertEquals(manifest, ProtoJson.parseManifest(json, "test"));
  }

  @Test
  void unknownManifestFieldIsRejectedNamingTheSource() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ProtoJson.parseManifest("{\"name\": \"x\", \"colour\": 3}", "pkg/manifest.json"));
    assertTrue(e.getMessage().contains("pkg/manifest.json"), e.getMessage());
    assertTrue(e.getMessage().contains("colour"), e.getMessage());
  }

  @Test
  void runRecordLineKeepsZeroFieldsAndSnakeCaseNames() {
    RunRecord record =
        RunRecord.newBuilder()
            .setRequestId("abc")
            .setPrompt("a red circle on a blue background")
            .setSeed(7)
            .setStatus(RunRecord.Status.STATUS_OK)
            .setMedia("media/abc.png")
            .build();
    String line = ProtoJson.printRecord(record);
    assertTrue(!line.contains("\n"), "one line: " + line);
    assertTrue(line.contains("\"block_skips\""), line);
    assertTrue(line.contains("\"request_id\":\"abc\""), line);
    assertTrue(line.contains("\"status\":\"STATUS_OK\""), line);
    assertEquals(record, ProtoJson.parseRecord(line, "manifest.jsonl:1"));
  }

  @Test
  void aLineAnEarlierRunWroteIsReadWithItsLowercaseStatus() {
    String ok =
        "{\"request_id\":\"78cc862be0f1d6c1\",\"prompt\":\"a \\\"green\\\" square\","
            + "\"seed\":\"9007199254740993\",\"model\":\"tiny-ldm\",\"config\":\"tiny-ldm_2\","
            + "\"worker\":\"127.0.0.1:40547\",\"status\":\"ok\","
            + "\"media\":\"media/78cc862be0f1d6c1.png\",\"wall_ms\":\"1836\",\"block_evals\":\"102\","
            + "\"block_skips\":\"48\",\"item_id\":\"\",\"source_line\":\"23\","
            + "\"reference_image\":\"\",\"negative_prompt\":\"\",\"error\":\"\",\"compute_ms\":\"1718\","
            + "\"batch_size\":8,\"truncated_tokens\":0,\"width\":32,\"height\":32,\"baseline\":\"\"}";
    RunRecord record = ProtoJson.parseRecord(ok, "manifest.jsonl:1");
    assertEquals(RunRecord.Status.STATUS_OK, record.getStatus());
    assertEquals("a \"green\" square", record.getPrompt());
    assertEquals(9007199254740993L, record.getSeed(), "int64 beyond a double's precision");
    assertEquals(8, record.getBatchSize());
    assertEquals(1836, record.getWallMs());
    String again = ProtoJson.printRecord(record);
    assertTrue(again.contains("\"status\":\"STATUS_OK\""), "printed in the current form: " + again);
    assertEquals(record, ProtoJson.parseRecord(again, "manifest.jsonl:1"));

    RunRecord failed =
        ProtoJson.parseRecord(
            "{\"request_id\": \"x\", \"status\": \"failed\", \"error\": \"UNAVAILABLE: gone\"}",
            "records/x.json");
    assertEquals(RunRecord.Status.STATUS_FAILED, failed.getStatus());
    assertEquals("UNAVAILABLE: gone", failed.getError());
  }

  @Test
  void anUnknownStatusOrFieldInARecordIsRefusedNamingTheSource() {
    for (String line :
        new String[] {
          "{\"request_id\": \"x\", \"status\": \"done\"}",
          "{\"request_id\": \"x\", \"status\": \"OK\"}",
          "{\"request_id\": \"x\", \"status\": \"ok\", \"colour\": 3}",
          "{\"request_id\": \"x\", \"status\": \"ok\"",
        }) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> ProtoJson.parseRecord(line, "manifest.jsonl:4"),
              line);
      assertTrue(e.getMessage().contains("manifest.jsonl:4"), e.getMessage());
    }
  }
}
