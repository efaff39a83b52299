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
}
