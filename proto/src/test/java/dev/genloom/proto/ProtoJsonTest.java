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
            .setStatus("ok")
            .setMedia("media/abc.png")
            .build();
    String line = ProtoJson.printRecord(record);
    assertTrue(!line.contains("\n"), "one line: " + line);
    assertTrue(line.contains("\"block_skips\""), line);
    assertTrue(line.contains("\"request_id\":\"abc\""), line);
    assertEquals(record, ProtoJson.parseRecord(line, "manifest.jsonl:1"));
  }
}
