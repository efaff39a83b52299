package dev.genloom.evaluation.humaneval;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the rating app reads and writes, always scoped to one rater: a rater can only reach items
 * and media of their own assignments.
 */
final class RatingStore {
  /** A rater, found by the hash of their link token. */
  record Rater(long id, String name) {}

  /**
   * The answers a rater may give, as GenAI-Arena records them: A, B, a tie where both are good
   * ({@code tie}) and a tie where both are bad.
   */
  static final List<String> CHOICES = List.of("left", "right", "tie", "both_bad");

  /** An axis and its question. */
  record Axis(String name, String question) {}

  /** The next item a rater has to answer. Media are opaque keys; configurations never appear. */
  record Task(
      long itemId,
      String publicId,
      String prompt,
      String leftMedia,
      String leftMime,
      String rightMedia,
      String rightMime) {}

  /** Progress of one rater. */
  record Progress(String name, int assigned, int answered) {}

  /** Media bytes and their type. */
  record Media(String mime, byte[] data) {}

  private final HumanEvalDb db;

  RatingStore(HumanEvalDb db) {
    this.db = db;
  }

  Optional<Rater> rater(String token) {
    String hash = Tokens.hash(token);
    return db.inTransaction(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement("SELECT id, name FROM raters WHERE token_hash = ?")) {
            p.setString(1, hash);
            try (ResultSet r = p.executeQuery()) {
              return r.next()
                  ? Optional.of(new Rater(r.getLong(1), r.getString(2)))
                  : Optional.empty();
            }
          }
        });
  }

  boolean isAdmin(String token) {
    String stored = setting("admin_token_hash");
    return stored != null && Tokens.same(stored, Tokens.hash(token));
  }

  String setting(String key) {
    return db.inTransaction(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement("SELECT value FROM settings WHERE key = ?")) {
            p.setString(1, key);
            try (ResultSet r = p.executeQuery()) {
              return r.next() ? r.getString(1) : null;
            }
          }
        });
  }

  List<Axis> axes() {
    return db.inTransaction(
        c -> {
          List<Axis> axes = new ArrayList<>();
          try (ResultSet r =
              c.createStatement()
                  .executeQuery("SELECT name, question FROM axes ORDER BY position")) {
            while (r.next()) {
              axes.add(new Axis(r.getString(1), r.getString(2)));
            }
          }
          return axes;
        });
  }

  /** The rater's first assigned item not yet answered on every axis. */
  Optional<Task> next(Rater rater) {
    return db.inTransaction(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement(
                  "SELECT i.id, i.public_id, i.prompt, i.left_media, lm.mime, i.right_media,"
                      + " rm.mime FROM assignments a JOIN items i ON i.id = a.item_id"
                      + " JOIN media lm ON lm.key = i.left_media JOIN media rm ON rm.key ="
                      + " i.right_media WHERE a.rater_id = ? AND (SELECT count(*) FROM ratings x"
                      + " WHERE x.rater_id = a.rater_id AND x.item_id = a.item_id) < (SELECT"
                      + " count(*) FROM axes) ORDER BY a.position LIMIT 1")) {
            p.setLong(1, rater.id());
            try (ResultSet r = p.executeQuery()) {
              if (!r.next()) {
                return Optional.empty();
              }
              return Optional.of(
                  new Task(
                      r.getLong(1),
                      r.getString(2),
                      r.getString(3),
                      r.getString(4),
                      r.getString(5),
                      r.getString(6),
                      r.getString(7)));
            }
          }
        });
  }

  Progress progress(Rater rater) {
    return db.inTransaction(c -> progress(c, rater.id(), rater.name()));
  }

  List<Progress> allProgress() {
    return db.inTransaction(
        c -> {
          List<Progress> all = new ArrayList<>();
          try (ResultSet r =
              c.createStatement().executeQuery("SELECT id, name FROM raters ORDER BY id")) {
            while (r.next()) {
              all.add(progress(c, r.getLong(1), r.getString(2)));
            }
          }
          return all;
        });
  }

  private static Progress progress(Connection c, long raterId, String name) throws SQLException {
    try (PreparedStatement p =
        c.prepareStatement(
            "SELECT (SELECT count(*) FROM assignments WHERE rater_id = ?), (SELECT count(*) FROM"
                + " (SELECT item_id FROM ratings WHERE rater_id = ? GROUP BY item_id HAVING"
                + " count(*) >= (SELECT count(*) FROM axes)))")) {
      p.setLong(1, raterId);
      p.setLong(2, raterId);
      try (ResultSet r = p.executeQuery()) {
        r.next();
        return new Progress(name, r.getInt(1), r.getInt(2));
      }
    }
  }

  /** The media, if it belongs to an item assigned to this rater. */
  Optional<Media> media(Rater rater, String key) {
    return db.inTransaction(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement(
                  "SELECT m.mime, m.data FROM media m WHERE m.key = ? AND EXISTS (SELECT 1 FROM"
                      + " assignments a JOIN items i ON i.id = a.item_id WHERE a.rater_id = ? AND"
                      + " (i.left_media = m.key OR i.right_media = m.key))")) {
            p.setString(1, key);
            p.setLong(2, rater.id());
            try (ResultSet r = p.executeQuery()) {
              return r.next()
                  ? Optional.of(new Media(r.getString(1), r.getBytes(2)))
                  : Optional.empty();
            }
          }
        });
  }

  /** The media keys of every item assigned to this rater. */
  List<String> mediaKeys(Rater rater) {
    return db.inTransaction(
        c -> {
          List<String> keys = new ArrayList<>();
          try (PreparedStatement p =
              c.prepareStatement(
                  "SELECT i.left_media, i.right_media FROM assignments a JOIN items i ON i.id ="
                      + " a.item_id WHERE a.rater_id = ?")) {
            p.setLong(1, rater.id());
            try (ResultSet r = p.executeQuery()) {
              while (r.next()) {
                keys.add(r.getString(1));
                keys.add(r.getString(2));
              }
            }
          }
          return keys;
        });
  }

  /** The ids of the raters other than {@code rater} to whom a public item id is assigned. */
  List<Long> otherRaters(Rater rater, String publicId) {
    return db.inTransaction(
        c -> {
          List<Long> ids = new ArrayList<>();
          try (PreparedStatement p =
              c.prepareStatement(
                  "SELECT a.rater_id FROM assignments a JOIN items i ON i.id = a.item_id WHERE"
                      + " i.public_id = ? AND a.rater_id <> ?")) {
            p.setString(1, publicId);
            p.setLong(2, rater.id());
            try (ResultSet r = p.executeQuery()) {
              while (r.next()) {
                ids.add(r.getLong(1));
              }
            }
          }
          return ids;
        });
  }

  /** The item id behind a public id, if assigned to this rater. */
  Optional<Long> assignedItem(Rater rater, String publicId) {
    return db.inTransaction(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement(
                  "SELECT i.id FROM items i JOIN assignments a ON a.item_id = i.id WHERE"
                      + " i.public_id = ? AND a.rater_id = ?")) {
            p.setString(1, publicId);
            p.setLong(2, rater.id());
            try (ResultSet r = p.executeQuery()) {
              return r.next() ? Optional.of(r.getLong(1)) : Optional.empty();
            }
          }
        });
  }

  /**
   * Stores every axis's answer for one item in one transaction.
   *
   * @return false when the rater had already answered this item (nothing is changed)
   */
  boolean rate(Rater rater, long itemId, Map<String, String> choices) {
    return db.inTransaction(
        c -> {
          try (PreparedStatement p =
              c.prepareStatement(
                  "SELECT count(*) FROM ratings WHERE rater_id = ? AND item_id = ?")) {
            p.setLong(1, rater.id());
            p.setLong(2, itemId);
            try (ResultSet r = p.executeQuery()) {
              r.next();
              if (r.getInt(1) > 0) {
                return false;
              }
            }
          }
          try (PreparedStatement p =
              c.prepareStatement(
                  "INSERT INTO ratings(rater_id, item_id, axis, choice, answered_at) VALUES (?,"
                      + " ?, ?, ?, ?)")) {
            String now = Instant.now().toString();
            for (Map.Entry<String, String> e : choices.entrySet()) {
              p.setLong(1, rater.id());
              p.setLong(2, itemId);
              p.setString(3, e.getKey());
              p.setString(4, e.getValue());
              p.setString(5, now);
              p.executeUpdate();
            }
          }
          return true;
        });
  }

  /** Removes the rater's most recent answer (every axis of that item); false if none. */
  boolean undo(Rater rater) {
    return db.inTransaction(
        c -> {
          Long item = null;
          try (PreparedStatement p =
              c.prepareStatement(
                  "SELECT item_id FROM ratings WHERE rater_id = ? ORDER BY rowid DESC LIMIT 1")) {
            p.setLong(1, rater.id());
            try (ResultSet r = p.executeQuery()) {
              if (r.next()) {
                item = r.getLong(1);
              }
            }
          }
          if (item == null) {
            return false;
          }
          try (PreparedStatement p =
              c.prepareStatement("DELETE FROM ratings WHERE rater_id = ? AND item_id = ?")) {
            p.setLong(1, rater.id());
            p.setLong(2, item);
            p.executeUpdate();
          }
          return true;
        });
  }
}
