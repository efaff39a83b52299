package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.genloom.proto.ProtoJson;
import dev.genloom.proto.v1.Component;
import dev.genloom.proto.v1.ModelManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Components naming one TorchScript file share one loaded module: tiny-ar-s1's {@code prefill} and
 * {@code decode} are methods of {@code transformer.pt}, loaded once, counted once and closed once.
 */
class LoadedComponentsTest {
  static final Path SHIPPED = Path.of("..", "models", "tiny-ar-s1");

  @TempDir Path temp;

  @Test
  void componentsNamingOneFileShareOneLoadedModule() {
    ModelPackage pkg = ModelPackage.open(SHIPPED);
    assertEquals(pkg.file(pkg.component("prefill").get()), pkg.file(pkg.component("decode").get()));
    try (LoadedComponents components = LoadedComponents.load(pkg, Device.cpu())) {
      TorchComponent prefill = components.get("prefill");
      long afterPrefill = components.residentBytes();
      TorchComponent decode = components.get("decode");
      assertEquals(1, components.loadedModules(), "prefill and decode: one module");
      assertSame(prefill.module(), decode.module());
      assertEquals("prefill", prefill.method());
      assertEquals("decode", decode.method());
      assertEquals(
          afterPrefill, components.residentBytes(), "decode loads nothing: its file is loaded");
      components.get("vq_decoder");
      assertEquals(2, components.loadedModules());
      assertEquals(List.of("prefill", "decode", "vq_decoder"), components.loadedNames());
    }
  }

  @Test
  void aSharedFileCountsOnceInTheFileBytes() throws IOException {
    ModelPackage pkg = ModelPackage.open(SHIPPED);
    long distinct = 0;
    for (String file : List.of("transformer.pt", "vq_encoder.pt", "vq_decoder.pt")) {
      distinct += Files.size(SHIPPED.resolve(file));
    }
    assertEquals(
        List.of("vq_encoder.pt", "vq_decoder.pt", "transformer.pt"),
        pkg.componentFiles().stream().map(f -> f.getFileName().toString()).toList());
    assertEquals(distinct, pkg.componentFileBytes());
    try (LoadedComponents components = LoadedComponents.load(pkg, Device.cpu())) {
      assertEquals(distinct, components.fileBytes());
    }
  }

  @Test
  void theMethodsMeetTheirGoldensAndTheGoldensAreCheckedInOrder() {
    ModelPackage pkg = ModelPackage.open(SHIPPED);
    List<GoldenCheck.Result> results = GoldenCheck.checkComponents(pkg, Device.cpu());
    assertEquals(
        List.of("vq_encoder", "vq_decoder", "prefill", "decode"),
        results.stream().map(GoldenCheck.Result::component).toList());
    for (GoldenCheck.Result result : results) {
      assertTrue(result.maxAbsError() <= 1e-4, result.component() + ": " + result.maxAbsError());
    }
  }

  @Test
  void threadsRunTheMethodsOfTheSharedModuleAtTheSameTime() throws Exception {
    ModelPackage pkg = ModelPackage.open(SHIPPED);
    try (LoadedComponents components = LoadedComponents.load(pkg, Device.cpu())) {
      TorchComponent prefill = components.get("prefill");
      TorchComponent decode = components.get("decode");
      Path prefillGolden = pkg.resolve("golden/prefill.npz");
      Path decodeGolden = pkg.resolve("golden/decode.npz");
      double prefillAlone = GoldenCheck.check(prefill, prefillGolden).maxAbsError();
      double decodeAlone = GoldenCheck.check(decode, decodeGolden).maxAbsError();
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<double[]>> runs = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
          runs.add(
              pool.submit(
                  () -> {
                    double[] errors = new double[2];
                    for (int i = 0; i < 5; i++) {
                      errors[0] = GoldenCheck.check(prefill, prefillGolden).maxAbsError();
                      errors[1] = GoldenCheck.check(decode, decodeGolden).maxAbsError();
                    }
                    return errors;
                  }));
        }
        for (Future<double[]> run : runs) {
          double[] errors = run.get();
          assertEquals(prefillAlone, errors[0], "prefill on another thread");
          assertEquals(decodeAlone, errors[1], "decode on another thread");
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void aComponentRunningAMethodHasNoForwardPredictor() {
    ModelPackage pkg = ModelPackage.open(SHIPPED);
    try (LoadedComponents components = LoadedComponents.load(pkg, Device.cpu())) {
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> components.get("decode").predictor());
      assertTrue(e.getMessage().contains("'decode'"), e.getMessage());
      assertTrue(e.getMessage().contains("method 'decode'"), e.getMessage());
    }
  }

  @Test
  void closingFreesTheSharedModuleOnce() {
    ModelPackage pkg = ModelPackage.open(SHIPPED);
    LoadedComponents components = LoadedComponents.load(pkg, Device.cpu());
    components.get("prefill");
    components.get("decode");
    components.close();
    components.close();
    assertEquals(0, components.loadedModules());
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> components.get("decode"));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
  }

  @Test
  void aMethodTheModuleLacksIsRefusedNamingTheComponentTheFileAndTheMethod() throws IOException {
    Path copy = copyWithMethod("decode", "decode_step");
    ModelPackage pkg = ModelPackage.open(copy);
    try (LoadedComponents components = LoadedComponents.load(pkg, Device.cpu())) {
      components.get("prefill");
      ModelPackageException e =
          assertThrows(ModelPackageException.class, () -> components.get("decode"));
      assertTrue(e.getMessage().contains("component 'decode'"), e.getMessage());
      assertTrue(e.getMessage().contains("'decode_step'"), e.getMessage());
      assertTrue(
          e.getMessage().contains(copy.resolve("transformer.pt").toString()), e.getMessage());
      assertTrue(e.getMessage().contains("prefill"), "the methods it has: " + e.getMessage());
    }
    ModelPackageException alone =
        assertThrows(
            ModelPackageException.class,
            () -> TorchComponent.load(pkg, pkg.component("decode").get(), Device.cpu()));
    assertTrue(alone.getMessage().contains("'decode_step'"), alone.getMessage());
    assertTrue(alone.getMessage().contains("transformer.pt"), alone.getMessage());
  }

  @Test
  void aModuleWithoutForwardRefusesAComponentThatNamesNoMethod() throws IOException {
    Path copy = copyWithMethod("decode", "");
    ModelPackage pkg = ModelPackage.open(copy);
    try (LoadedComponents components = LoadedComponents.load(pkg, Device.cpu())) {
      ModelPackageException e =
          assertThrows(ModelPackageException.class, () -> components.get("decode"));
      assertTrue(e.getMessage().contains("'forward'"), e.getMessage());
      assertTrue(e.getMessage().contains("transformer.pt"), e.getMessage());
    }
  }

  /** A copy of tiny-ar-s1 whose component {@code name} runs {@code method}. */
  private Path copyWithMethod(String name, String method) throws IOException {
    Path copy = Files.createDirectories(temp.resolve("tiny-ar-s1"));
    try (Stream<Path> files = Files.walk(SHIPPED)) {
      for (Path file : files.toList()) {
        Path target = copy.resolve(SHIPPED.relativize(file).toString());
        if (Files.isDirectory(file)) {
          Files.createDirectories(target);
        } else {
          Files.copy(file, target);
        }
      }
    }
    Path manifestFile = copy.resolve(ModelPackage.MANIFEST_FILE);
    ModelManifest manifest = ProtoJson.readManifest(manifestFile);
    ModelManifest.Builder builder = manifest.toBuilder().clearComponents();
    for (Component component : manifest.getComponentsList()) {
      builder.addComponents(
          component.getName().equals(name)
              ? component.toBuilder().setMethod(method).build()
              : component);
    }
    Files.writeString(manifestFile, ProtoJson.printManifest(builder.build()));
    return copy;
  }
}
