package dev.genloom.generators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A package is hashed once per file version: opening it again hashes nothing, a changed file is
 * hashed again, the records survive the process (a second instance reading the same store), and
 * {@link ModelPackage#verify} catches what size and modification time cannot.
 */
class VerifiedFilesTest {
  @TempDir Path dir;

  private static final byte[] WEIGHTS = "twelve bytes".getBytes(StandardCharsets.UTF_8);

  private Path pkg() throws Exception {
    Path pkg = Files.createDirectories(dir.resolve("feat"));
    String json =
        "{\"format\":\"genloom/v1\",\"name\":\"feat\",\"kind\":\"MODEL_KIND_FEATURES\","
            + "\"components\":[{\"name\":\"features\",\"file\":\"features.pt\",\"sha256\":\""
            + VerifiedFiles.hash(writeWeights(pkg, WEIGHTS))
            + "\"}]}";
    Files.writeString(pkg.resolve("manifest.json"), json);
    return pkg;
  }

  private static Path writeWeights(Path pkg, byte[] bytes) throws Exception {
    return Files.write(pkg.resolve("features.pt"), bytes);
  }

  @Test
  void hashesEachFileVersionOnce() throws Exception {
    Path pkg = pkg();
    Path file = pkg.resolve("features.pt");
    Path store = dir.resolve("cache").resolve(VerifiedFiles.FILE);
    VerifiedFiles first = new VerifiedFiles(Optional.of(store));
    String sha = first.sha256(file, false);
    assertEquals(1, first.filesHashed());
    assertEquals(sha, first.sha256(file, false));
    assertEquals(1, first.filesHashed(), "the same version is not hashed again");
    assertTrue(Files.isRegularFile(store), "the record is stored");

    VerifiedFiles second = new VerifiedFiles(Optional.of(store));
    assertEquals(sha, second.sha256(file, false));
    assertEquals(0, second.filesHashed(), "another process reads the record instead of hashing");

    Files.setLastModifiedTime(
        file, FileTime.fromMillis(Files.getLastModifiedTime(file).toMillis() + 5000));
    assertEquals(sha, second.sha256(file, false));
    assertEquals(1, second.filesHashed(), "a new modification time is a new version");

    assertEquals(sha, second.sha256(file, true));
    assertEquals(2, second.filesHashed(), "rehash hashes whatever was recorded");
  }

  @Test
  void aChangedFileIsCaughtAndVerifyCatchesWhatTheRecordCannot() throws Exception {
    Path pkg = pkg();
    Path file = pkg.resolve("features.pt");
    ModelPackage.open(pkg);
    long before = VerifiedFiles.shared().filesHashed();
    ModelPackage.open(pkg);
    assertEquals(before, VerifiedFiles.shared().filesHashed(), "opening again hashes nothing");

    // Same size, same modification time, other bytes: only a full verification can tell.
    FileTime mtime = Files.getLastModifiedTime(file);
    byte[] other = WEIGHTS.clone();
    other[0] ^= 1;
    writeWeights(pkg, other);
    Files.setLastModifiedTime(file, mtime);
    ModelPackage.open(pkg);
    ModelPackageException e =
        assertThrows(ModelPackageException.class, () -> ModelPackage.verify(pkg));
    assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
    assertTrue(e.getMessage().contains("features.pt"), e.getMessage());
    ModelPackageException again =
        assertThrows(ModelPackageException.class, () -> ModelPackage.open(pkg));
    assertTrue(again.getMessage().contains("corrupt"), "verify replaced the record: " + again);

    // A changed size is a new version, hashed and refused on a plain open.
    writeWeights(pkg, WEIGHTS);
    ModelPackage.open(pkg);
    writeWeights(pkg, "thirteen byte".getBytes(StandardCharsets.UTF_8));
    assertThrows(ModelPackageException.class, () -> ModelPackage.open(pkg));
  }
}
