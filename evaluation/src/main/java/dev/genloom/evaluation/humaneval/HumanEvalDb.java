package dev.genloom.evaluation.humaneval;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * A human-evaluation database: SQLite, opened with its migrations applied in order (tracked in
 * {@code schema_migrations}), write-ahead logging and full synchronous commits, so a rating that
 * was answered is on disk even if the server is killed right after.
 */
public final class HumanEvalDb implements AutoCloseable {
  /** Migrations, in order; each runs once, in one transaction. */
  static final List<String> MIGRATIONS =
      List.of("V1__tasks_and_ratings.sql", "V2__both_bad_ties.sql");

  private final Connection connection;
  private final Path file;

  private HumanEvalDb(Path file, Connection connection) {
    this.file = file;
    this.connection = connection;
  }

  /** Creates a new database; refuses to overwrite an existing file. */
  public static HumanEvalDb create(Path file) {
    if (Files.exists(file)) {
      throw new IllegalArgumentException(
          "out: " + file + " already exists; choose another file or delete it first");
    }
    return open(file, true);
  }

  /** Opens an existing database and applies any pending migration. */
  public static HumanEvalDb open(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("db: " + file + " does not exist");
    }
    return open(file, false);
  }

  private static HumanEvalDb open(Path file, boolean create) {
    try {
      Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
      try (Statement s = c.createStatement()) {
        s.execute("PRAGMA journal_mode=WAL");
        s.execute("PRAGMA synchronous=FULL");
        s.execute("PRAGMA foreign_keys=ON");
        s.execute("PRAGMA busy_timeout=5000");
      }
      HumanEvalDb db = new HumanEvalDb(file, c);
      db.migrate(create);
      return db;
    } catch (SQLException e) {
      throw new IllegalArgumentException("db: cannot open " + file + ": " + e.getMessage(), e);
    }
  }

  private void migrate(boolean create) throws SQLException {
    try (Statement s = connection.createStatement()) {
      if (!create) {
        try (ResultSet r =
            s.executeQuery(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND"
                    + " name='schema_migrations'")) {
          if (!r.next() || r.getInt(1) == 0) {
            throw new IllegalArgumentException(
                "db: " + file + " is not a Genloom human-evaluation database");
          }
        }
      }
      s.execute(
          "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT"
              + " NOT NULL)");
    }
    for (String name : MIGRATIONS) {
      try (PreparedStatement q =
          connection.prepareStatement("SELECT 1 FROM schema_migrations WHERE name = ?")) {
        q.setString(1, name);
        try (ResultSet r = q.executeQuery()) {
          if (r.next()) {
            continue;
          }
        }
      }
      inTransaction(
          c -> {
            try (Statement s = c.createStatement()) {
              for (String statement : statements(read(name))) {
                s.execute(statement);
              }
            }
            try (PreparedStatement p =
                c.prepareStatement(
                    "INSERT INTO schema_migrations(name, applied_at) VALUES (?, datetime('now'))")) {
              p.setString(1, name);
              p.executeUpdate();
            }
            return null;
          });
    }
  }

  private static String read(String name) {
    try (InputStream in = HumanEvalDb.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("migration " + name + " is missing from the build");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Splits a migration into statements: comments dropped, split on semicolons at line ends. */
  static List<String> statements(String sql) {
    StringBuilder clean = new StringBuilder();
    for (String line : sql.split("\n")) {
      int comment = line.indexOf("--");
      clean.append(comment >= 0 ? line.substring(0, comment) : line).append('\n');
    }
    return java.util.Arrays.stream(clean.toString().split(";\\s*\n"))
        .map(String::strip)
        .filter(s -> !s.isEmpty())
        .toList();
  }

  /** Work done inside one transaction. */
  @FunctionalInterface
  public interface Work<T> {
    T run(Connection connection) throws SQLException;
  }

  /** Runs the work in one transaction: committed on return, rolled back on any exception. */
  public synchronized <T> T inTransaction(Work<T> work) {
    try {
      connection.setAutoCommit(false);
      try {
        T result = work.run(connection);
        connection.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        connection.rollback();
        throw e;
      } finally {
        connection.setAutoCommit(true);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("db: " + e.getMessage(), e);
    }
  }

  public Path file() {
    return file;
  }

  @Override
  public synchronized void close() {
    try {
      connection.close();
    } catch (SQLException e) {
      throw new IllegalStateException("db: " + e.getMessage(), e);
    }
  }
}
