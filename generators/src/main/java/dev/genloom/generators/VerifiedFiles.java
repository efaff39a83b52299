package dev.genloom.generators;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The SHA-256 of each file version already hashed, so that a package is hashed once per file
 * version rather than on every scan: a file whose size and modification time match a recorded
 * version is taken to have that version's hash.
 *
 * <p>Records are kept in memory and in {@code verified-files.json} under the cache folder: the
 * system property {@code genloom.cache.dir}, else {@code $GENLOOM_CACHE_DIR}, else {@code
 * $XDG_CACHE_HOME/genloom}, else {@code ~/.cache/genloom}. A cache folder that cannot be written
 * leaves the records in memory for this process. The check guards against corrupt and partly copied
 * files, not against someone who can also reset a file's modification time; {@code genloom models
 * verify} hashes everything again.
 */
public final class VerifiedFiles {
  static final String FILE = "verified-files.json";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final System.Logger LOG = System.getLogger(VerifiedFiles.class.getName());
  private static VerifiedFiles shared;

  /** One hashed file version. */
  record Version(long size, long modifiedNanos, String sha256) {}

  private final Optional<Path> store;
  private final Map<String, Version> versions = new LinkedHashMap<>();
  private boolean read;
  private boolean warned;
  private long hashed;

  VerifiedFiles(Optional<Path> store) {
    this.store = store;
  }

  /** The records of this process, stored in the default cache folder. */
  public static synchronized VerifiedFiles shared() {
    if (shared == null) {
      shared = new VerifiedFiles(defaultFolder().map(d -> d.resolve(FILE)));
    }
    return shared;
  }

  static Optional<Path> defaultFolder() {
    String property = System.getProperty("genloom.cache.dir");
    if (property != null && !property.isBlank()) {
      return Optional.of(Path.of(property));
    }
    String env = System.getenv("GENLOOM_CACHE_DIR");
    if (env != null && !env.isBlank()) {
      return Optional.of(Path.of(env));
    }
    String xdg = System.getenv("XDG_CACHE_HOME");
    if (xdg != null && !xdg.isBlank()) {
      return Optional.of(Path.of(xdg, "genloom"));
    }
    String home = System.getProperty("user.home");
    return home == null || home.isBlank()
        ? Optional.empty()
        : Optional.of(Path.of(home, ".cache", "genloom"));
  }

  /**
   * The file's SHA-256 (lower-case hex): the recorded one when its size and modification time match
   * a recorded version and {@code rehash} is false, else computed now and recorded.
   */
  public synchronized String sha256(Path file, boolean rehash) {
    Path key = file.toAbsolutePath().normalize();
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(key, BasicFileAttributes.class);
    } catch (IOException e) {
      throw new ModelPackageException("cannot read " + key + ": " + e.getMessage(), e);
    }
    long size = attributes.size();
    long modified = attributes.lastModifiedTime().to(TimeUnit.NANOSECONDS);
    readStore();
    Version known = versions.get(key.toString());
    if (!rehash && known != null && known.size() == size && known.modifiedNanos() == modified) {
      return known.sha256();
    }
    String sha = hash(key);
    hashed++;
    versions.put(key.toString(), new Version(size, modified, sha));
    writeStore();
    return sha;
  }

  /** How many files this instance has hashed (rather than found recorded). */
  public synchronized long filesHashed() {
    return hashed;
  }

  private void readStore() {
    if (read) {
      return;
    }
    read = true;
    if (store.isEmpty() || !Files.isRegularFile(store.get())) {
      return;
    }
    try {
      JsonNode files = JSON.readTree(store.get().toFile()).path("files");
      files
          .fields()
          .forEachRemaining(
              e ->
                  versions.put(
                      e.getKey(),
                      new Version(
                          e.getValue().path("size").asLong(-1),
                          e.getValue().path("modified_ns").asLong(-1),
                          e.getValue().path("sha256").asText(""))));
    } catch (IOException e) {
      // An unreadable record only costs hashing again; it is replaced at the next write.
      warnOnce("cannot read " + store.get() + " (" + e.getMessage() + "); hashing again");
    }
  }

  private void writeStore() {
    if (store.isEmpty()) {
      return;
    }
    Path target = store.get();
    try {
      Files.createDirectories(target.getParent());
      ObjectNode root = JSON.createObjectNode();
      root.put("version", 1);
      ObjectNode files = root.putObject("files");
      versions.forEach(
          (file, v) -> {
            ObjectNode n = files.putObject(file);
            n.put("size", v.size());
            n.put("modified_ns", v.modifiedNanos());
            n.put("sha256", v.sha256());
          });
      Path temp = Files.createTempFile(target.getParent(), FILE, ".tmp");
      JSON.writerWithDefaultPrettyPrinter().writeValue(temp.toFile(), root);
      Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException | UnsupportedOperationException e) {
      warnOnce(
          "cannot record verified files in "
              + target
              + " ("
              + e.getMessage()
              + "); this process keeps them in memory");
    }
  }

  private void warnOnce(String message) {
    if (!warned) {
      warned = true;
      LOG.log(System.Logger.Level.WARNING, message);
    }
  }

  static String hash(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      byte[] buffer = new byte[1 << 16];
      for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
        digest.update(buffer, 0, n);
      }
      return HexFormat.of().formatHex(digest.digest());
    } catch (IOException e) {
      throw new ModelPackageException("cannot read " + file + ": " + e.getMessage(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
