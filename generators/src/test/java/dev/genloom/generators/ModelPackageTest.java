package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelPackageTest {
  @TempDir Path dir;

  private Path writePackage(String name, String componentFile, String sha) throws IOException {
    Path pkg = Files.createDirectories(dir.resolve(name));
    String json =
        "{\"format\":\"genloom/v1\",\"name\":\""
            + name
            + "\",\"kind\":\"MODEL_KIND_FEATURES\",\"components\":[{\"name\":\"features\",\"file\":\""
            + componentFile
            + "\",\"sha256\":\""
            + sha
            + "\"}]}";
    Files.writeString(pkg.resolve("manifest.json"), json, StandardCharsets.UTF_8);
    return pkg;
  }

  private static String sha256(byte[] data) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  @Test
  void opensAValidPackageAndFindsItsComponent() throws Exception {
    byte[] weights = {1, 2, 3};
    Path pkg = writePackage("feat", "features.pt", sha256(weights));
    Files.write(pkg.resolve("features.pt"), weights);

    ModelPackage opened = ModelPackage.open(pkg);

    assertEquals("feat", opened.name());
    assertEquals(pkg.resolve("features.pt"), opened.file(opened.component("features").get()));
    assertEquals(1, ModelRepository.scan(dir).packages().size());
  }

  @Test
  void missingManifestIsNamed() {
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> ModelPackage.open(dir.resolve("nothing")));
    assertTrue(e.getMessage().contains("manifest.json"), e.getMessage());
  }

  @Test
  void missingComponentFileIsNamed() throws Exception {
    Path pkg = writePackage("feat", "features.pt", "");
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> ModelPackage.open(pkg));
    assertTrue(e.getMessage().contains("features.pt"), e.getMessage());
  }

  @Test
  void corruptComponentIsDetectedByChecksum() throws Exception {
    Path pkg = writePackage("feat", "features.pt", sha256(new byte[] {1, 2, 3}));
    Files.write(pkg.resolve("features.pt"), new byte[] {9, 9});
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> ModelPackage.open(pkg));
    assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
    assertTrue(e.getMessage().contains("features.pt"), e.getMessage());
  }

  @Test
  void pathsOutsideThePackageAreRefused() throws Exception {
    Files.write(dir.resolve("secret.pt"), new byte[] {1});
    Path pkg = writePackage("feat", "../secret.pt", "");
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> ModelPackage.open(pkg));
    assertTrue(e.getMessage().contains("outside the package"), e.getMessage());
  }

  @Test
  void invalidJsonNamesTheManifest() throws Exception {
    Path pkg = Files.createDirectories(dir.resolve("broken"));
    Files.writeString(pkg.resolve("manifest.json"), "{\"name\": ");
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> ModelPackage.open(pkg));
    assertTrue(e.getMessage().contains("manifest.json"), e.getMessage());
  }

  /** A package whose components are given as JSON objects, with {@code weights} in model.pt. */
  private Path writeComponents(String name, byte[] weights, String... components)
      throws IOException {
    Path pkg = Files.createDirectories(dir.resolve(name));
    Files.write(pkg.resolve("model.pt"), weights);
    String json =
        "{\"format\":\"genloom/v1\",\"name\":\""
            + name
            + "\",\"kind\":\"MODEL_KIND_AR_TOKEN_SHUFFLE\",\"components\":["
            + String.join(",", components)
            + "]}";
    Files.writeString(pkg.resolve("manifest.json"), json, StandardCharsets.UTF_8);
    return pkg;
  }

  private static String component(String name, String file, String method, String sha) {
    return "{\"name\":\""
        + name
        + "\",\"file\":\""
        + file
        + "\""
        + (method.isEmpty() ? "" : ",\"method\":\"" + method + "\"")
        + ",\"sha256\":\""
        + sha
        + "\"}";
  }

  @Test
  void componentsSharingAFileOpenAndTheFileCountsOnce() throws Exception {
    byte[] weights = {1, 2, 3, 4, 5};
    String sha = sha256(weights);
    Path pkg =
        writeComponents(
            "shared",
            weights,
            component("prefill", "model.pt", "prefill", sha),
            component("decode", "./model.pt", "decode", sha.toUpperCase(java.util.Locale.ROOT)));
    ModelPackage opened = ModelPackage.open(pkg);
    assertEquals("prefill", ModelPackage.method(opened.component("prefill").get()));
    assertEquals(java.util.List.of(pkg.resolve("model.pt")), opened.componentFiles());
    assertEquals(weights.length, opened.componentFileBytes());
  }

  @Test
  void componentsSharingAFileWithDifferentHashesAreRefusedNamingBoth() throws Exception {
    byte[] weights = {1, 2, 3};
    Path pkg =
        writeComponents(
            "shared",
            weights,
            component("prefill", "model.pt", "prefill", sha256(weights)),
            component("decode", "model.pt", "decode", sha256(new byte[] {9})));
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> ModelPackage.open(pkg));
    assertTrue(e.getMessage().contains("manifest.json"), e.getMessage());
    assertTrue(e.getMessage().contains("'prefill'"), e.getMessage());
    assertTrue(e.getMessage().contains("'decode'"), e.getMessage());
    assertTrue(e.getMessage().contains("model.pt"), e.getMessage());
    assertTrue(e.getMessage().contains("different SHA-256"), e.getMessage());
  }

  @Test
  void componentsSharingAFileWithDifferentPrecisionsAreRefused() throws Exception {
    byte[] weights = {1, 2, 3};
    String sha = sha256(weights);
    String half =
        component("decode", "model.pt", "decode", sha)
            .replace("}", ",\"precision\":\"PRECISION_FP16\"}");
    Path pkg =
        writeComponents("shared", weights, component("prefill", "model.pt", "prefill", sha), half);
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> ModelPackage.open(pkg));
    assertTrue(e.getMessage().contains("'prefill' and 'decode'"), e.getMessage());
    assertTrue(e.getMessage().contains("different precisions"), e.getMessage());

    // Unset precision is float32: the two agree.
    String fp32 =
        component("decode", "model.pt", "decode", sha)
            .replace("}", ",\"precision\":\"PRECISION_FP32\"}");
    Path agreeing =
        writeComponents("agree", weights, component("prefill", "model.pt", "prefill", sha), fp32);
    assertEquals("agree", ModelPackage.open(agreeing).name());
  }

  @Test
  void componentsSharingAFileMayNotRunTheSameMethod() throws Exception {
    byte[] weights = {1, 2, 3};
    String sha = sha256(weights);
    Path pkg =
        writeComponents(
            "shared",
            weights,
            component("a", "model.pt", "", sha),
            component("b", "model.pt", "forward", sha));
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> ModelPackage.open(pkg));
    assertTrue(e.getMessage().contains("'a' and 'b'"), e.getMessage());
    assertTrue(e.getMessage().contains("same method 'forward'"), e.getMessage());
  }

  @Test
  void aMethodNameThatIsNoIdentifierIsRefused() throws Exception {
    byte[] weights = {1, 2, 3};
    Path pkg =
        writeComponents(
            "bad", weights, component("decode", "model.pt", "decode-step", sha256(weights)));
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> ModelPackage.open(pkg));
    assertTrue(e.getMessage().contains("manifest.json"), e.getMessage());
    assertTrue(e.getMessage().contains("component 'decode'"), e.getMessage());
    assertTrue(e.getMessage().contains("'decode-step'"), e.getMessage());
    for (String bad : new String[] {"1st", "de code", "dé"}) {
      Path other =
          writeComponents(
              "bad" + Math.abs(bad.hashCode()),
              weights,
              component("decode", "model.pt", bad, sha256(weights)));
      assertThrows(ModelPackageException.class, () -> ModelPackage.open(other), bad);
    }
  }
}
