package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.DType;
import dev.genloom.proto.v1.TensorSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The runtime never creates half-precision arrays. Creating a BFLOAT16 NDArray kills the JVM in DJL
 * 0.35 (pinned here in a child process: when a DJL upgrade fixes it, this test says so); no main
 * source of any module names a half-precision DJL data type; and a manifest that puts a float16
 * tensor at a component boundary is refused by name before anything is loaded.
 */
class HalfPrecisionBoundaryTest {
  private static final Pattern HALF_TYPE = Pattern.compile("DataType\\s*\\.\\s*B?FLOAT16");

  @Test
  void aBfloat16ArrayStillKillsTheJvm() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process p =
        new ProcessBuilder(
                java.toString(),
                "-Dai.djl.offline=true",
                "-cp",
                System.getProperty("java.class.path"),
                Bf16ArrayProbe.class.getName())
            .redirectErrorStream(true)
            .start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the probe ended");
    assertTrue(output.contains("engine PyTorch"), "the probe reached DJL's engine:\n" + output);
    assertFalse(
        output.contains("survived"),
        "DJL now creates BFLOAT16 arrays; the float32 boundary could be revisited:\n" + output);
    assertNotEquals(0, p.exitValue(), output);
  }

  @Test
  void noMainSourceNamesAHalfPrecisionDataType() throws IOException {
    Path root = Path.of("..").toAbsolutePath().normalize();
    List<Path> sources;
    try (Stream<Path> files = Files.walk(root, 12)) {
      sources =
          files
              .filter(f -> f.toString().endsWith(".java"))
              .filter(f -> f.toString().contains("/src/main/java/"))
              .filter(f -> !f.toString().contains("/target/"))
              .toList();
    }
    assertTrue(sources.size() > 50, "found the modules' sources: " + sources.size());
    for (Path f : sources) {
      assertFalse(
          HALF_TYPE.matcher(Files.readString(f)).find(),
          root.relativize(f) + " names a half-precision DJL data type");
    }
  }

  @Test
  void aFloat16TensorAtTheBoundaryIsRefusedByName() {
    Component spec =
        Component.newBuilder()
            .setName("unet_block")
            .setFile("unet_block.pt")
            .addInputs(TensorSpec.newBuilder().setName("sample").setDtype(DType.DTYPE_FLOAT16))
            .build();
    ModelPackageException e =
        assertThrows(
            ModelPackageException.class,
            () -> TorchComponent.checkBoundary(spec, Path.of("unet_block.pt")));
    assertTrue(e.getMessage().contains("input 'sample' is float16"), e.getMessage());
    assertTrue(e.getMessage().contains("unet_block"), e.getMessage());
  }
}
