package dev.genloom.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.genloom.proto.RunLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.beam.runners.dataflow.DataflowRunner;
import org.apache.beam.runners.dataflow.options.DataflowPipelineOptions;
import org.apache.beam.sdk.Pipeline;
import org.apache.beam.sdk.PipelineResult;
import org.apache.beam.sdk.options.PipelineOptionsFactory;
import org.apache.beam.sdk.runners.TransformHierarchy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same pipeline on the FlinkRunner (embedded local cluster) and built for Dataflow. */
class RunnersTest {
  @TempDir Path temp;

  @Test
  void flinkRunnerWithAnEmbeddedClusterProducesTheSameOutputs() throws Exception {
    Path prompts = temp.resolve("prompts.txt");
    Files.writeString(
        prompts, "a red circle on a blue background\nnot json but a fine text prompt\n");
    Path grid = temp.resolve("grid.json");
    Files.writeString(grid, "{\"models\": [\"tiny-ldm\"], \"steps\": [2]}");
    Path out = temp.resolve("out");
    try (LoopbackWorkers workers = LoopbackWorkers.start(temp, 1)) {
      GeneratePipelineOptions options =
          PipelineOptionsFactory.fromArgs(
                  "--runner=FlinkRunner",
                  "--flinkMaster=[local]",
                  "--parallelism=1",
                  "--prompts=" + prompts,
                  "--out=" + out,
                  "--grid=" + grid,
                  "--seeds=2",
                  "--workers=" + workers.addresses())
              .as(GeneratePipelineOptions.class);
      assertEquals(PipelineResult.State.DONE, GeneratePipeline.run(options).waitUntilFinish());
    }
    List<JsonNode> manifest = GeneratePipelineTest.lines(out.resolve(RunLayout.MANIFEST));
    assertEquals(4, manifest.size());
    assertTrue(
        manifest.stream().allMatch(l -> l.get("status").asText().equals("STATUS_OK")),
        manifest.toString());
    assertEquals(4, manifest.stream().map(l -> l.get("request_id").asText()).distinct().count());
  }

  @Test
  void dataflowOptionsBuildAValidGraph() throws Exception {
    Path prompts = temp.resolve("prompts.txt");
    Files.writeString(prompts, "a red circle on a blue background\n");
    DataflowPipelineOptions options =
        PipelineOptionsFactory.fromArgs(
                "--runner=DataflowRunner",
                "--project=genloom-test",
                "--region=us-central1",
                "--gcpTempLocation=gs://genloom-test-bucket/tmp",
                "--stagingLocation=gs://genloom-test-bucket/staging",
                "--credentialFactoryClass=org.apache.beam.sdk.extensions.gcp.auth.NoopCredentialFactory",
                "--pathValidatorClass=org.apache.beam.sdk.extensions.gcp.storage.NoopPathValidator",
                "--prompts=" + prompts,
                "--out=" + temp.resolve("out"),
                "--workers=worker-0.genloom:50051,worker-1.genloom:50051")
            .as(DataflowPipelineOptions.class);
    org.apache.beam.sdk.io.FileSystems.setDefaultPipelineOptions(options);
    // The runner validates its options (project, region, temp location) without contacting Google
    // Cloud.
    DataflowRunner runner = DataflowRunner.fromOptions(options);
    assertEquals("us-central1", options.getRegion());
    Pipeline pipeline = Pipeline.create(options);
    GeneratePipeline.build(pipeline, options.as(GeneratePipelineOptions.class));
    List<String> transforms = new ArrayList<>();
    pipeline.traverseTopologically(
        new Pipeline.PipelineVisitor.Defaults() {
          @Override
          public CompositeBehavior enterCompositeTransform(TransformHierarchy.Node node) {
            if (!node.isRootNode()) {
              transforms.add(node.getFullName());
            }
            return CompositeBehavior.ENTER_TRANSFORM;
          }

          @Override
          public void visitPrimitiveTransform(TransformHierarchy.Node node) {
            transforms.add(node.getFullName());
          }
        });
    for (String expected :
        new String[] {
          "ReadPrompts",
          "Expand",
          "GenerateMedia",
          "GenerateMedia/BatchPerConfig",
          "GenerateMedia/Generate",
          "WriteRunOutputs",
          "WriteRunOutputs/WriteManifest",
          "WriteRunOutputs/WriteDeadLetters"
        }) {
      assertTrue(transforms.contains(expected), expected + " missing from the graph");
    }
    assertTrue(runner.toString().contains("DataflowRunner"));
  }
}
