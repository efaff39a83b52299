package dev.genloom.evaluation.humaneval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Ratings in and out as CSV or JSONL, so that ratings collected elsewhere (a crowdsourcing
 * platform's batch results, say) can be analysed here. Rows name the rater, the item's public id,
 * the axis and the choice ({@code left}, {@code right}, {@code tie} for both good or {@code
 * both_bad}); exports add the configurations and prompt. An import is all or nothing.
 */
public final class RatingsExchange {
  static final List<String> COLUMNS =
      List.of("rater", "item", "axis", "choice", "left_config", "right_config", "prompt", "seed");

  private static final ObjectMapper JSON = new ObjectMapper();

  private RatingsExchange() {}

  /** Writes every rating; the format follows the extension (.csv or .jsonl). */
  public static int export(HumanEvalDb db, Path file) {
    boolean csv = isCsv(file);
    List<Map<String, String>> rows =
        db.inTransaction(
            c -> {
              List<Map<String, String>> out = new ArrayList<>();
              try (ResultSet r =
                  c.createStatement()
                      .executeQuery(
                          "SELECT ra.name, i.public_id, x.axis, x.choice, l.name, rc.name,"
                              + " i.prompt, i.seed FROM ratings x JOIN raters ra ON ra.id ="
                              + " x.rater_id JOIN items i ON i.id = x.item_id JOIN configs l ON"
                              + " l.id = i.left_config JOIN configs rc ON rc.id = i.right_config"
                              + " ORDER BY x.rowid")) {
                while (r.next()) {
                  Map<String, String> row = new LinkedHashMap<>();
                  for (int k = 0; k < COLUMNS.size(); k++) {
                    row.put(COLUMNS.get(k), r.getString(k + 1));
                  }
                  out.add(row);
                }
              }
              return out;
            });
    StringBuilder text = new StringBuilder();
    if (csv) {
      text.append(String.join(",", COLUMNS)).append('\n');
    }
    for (Map<String, String> row : rows) {
      if (csv) {
        List<String> cells = new ArrayList<>();
        row.values().forEach(v -> cells.add(csvCell(v)));
        text.append(String.join(",", cells)).append('\n');
      } else {
        ObjectNode node = JSON.createObjectNode();
        row.forEach(node::put);
        text.append(node).append('\n');
      }
    }
    try {
      Files.writeString(file, text);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
    return rows.size();
  }

  /** Reads ratings into the study; any bad row stops the import, naming its line. */
  public static int importFrom(HumanEvalDb db, Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file);
    } catch (IOException e) {
      throw new IllegalArgumentException("file: cannot read " + file + ": " + e.getMessage());
    }
    List<Map<String, String>> rows = new ArrayList<>();
    List<Integer> lineNumbers = new ArrayList<>();
    if (isCsv(file)) {
      if (lines.isEmpty()) {
        throw new IllegalArgumentException(file + ": empty CSV (expected a header row)");
      }
      List<String> header = csvRow(lines.get(0), file, 1);
      for (String required : List.of("rater", "item", "axis", "choice")) {
        if (!header.contains(required)) {
          throw new IllegalArgumentException(
              file + ": the header has no '" + required + "' column");
        }
      }
      for (int i = 1; i < lines.size(); i++) {
        if (lines.get(i).isBlank()) {
          continue;
        }
        List<String> cells = csvRow(lines.get(i), file, i + 1);
        Map<String, String> row = new LinkedHashMap<>();
        for (int k = 0; k < header.size() && k < cells.size(); k++) {
          row.put(header.get(k), cells.get(k));
        }
        rows.add(row);
        lineNumbers.add(i + 1);
      }
    } else {
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).isBlank()) {
          continue;
        }
        try {
          JsonNode node = JSON.readTree(lines.get(i));
          Map<String, String> row = new LinkedHashMap<>();
          node.fields().forEachRemaining(e -> row.put(e.getKey(), e.getValue().asText()));
          rows.add(row);
          lineNumbers.add(i + 1);
        } catch (IOException e) {
          throw new IllegalArgumentException(file + ":" + (i + 1) + ": not valid JSON");
        }
      }
    }
    return db.inTransaction(
        c -> {
          int stored = 0;
          for (int k = 0; k < rows.size(); k++) {
            store(c, rows.get(k), file + ":" + lineNumbers.get(k));
            stored++;
          }
          return stored;
        });
  }

  private static void store(Connection c, Map<String, String> row, String where)
      throws SQLException {
    String rater = row.getOrDefault("rater", "").strip();
    String item = row.getOrDefault("item", "").strip();
    String axis = row.getOrDefault("axis", "").strip();
    String choice = row.getOrDefault("choice", "").strip();
    if (rater.isEmpty()) {
      throw new IllegalArgumentException(where + ": 'rater' is empty");
    }
    if (!RatingStore.CHOICES.contains(choice)) {
      throw new IllegalArgumentException(
          where
              + ": 'choice' must be left, right, tie (both good) or both_bad, got '"
              + choice
              + "'");
    }
    Long itemId = id(c, "SELECT id FROM items WHERE public_id = ?", item);
    if (itemId == null) {
      throw new IllegalArgumentException(where + ": no item '" + item + "' in this study");
    }
    if (id(c, "SELECT position FROM axes WHERE name = ?", axis) == null) {
      throw new IllegalArgumentException(where + ": no axis '" + axis + "' in this study");
    }
    Long raterId = id(c, "SELECT id FROM raters WHERE name = ?", rater);
    if (raterId == null) {
      try (PreparedStatement p =
          c.prepareStatement(
              "INSERT INTO raters(name, token_hash) VALUES (?, NULL)",
              Statement.RETURN_GENERATED_KEYS)) {
        p.setString(1, rater);
        p.executeUpdate();
        try (ResultSet keys = p.getGeneratedKeys()) {
          keys.next();
          raterId = keys.getLong(1);
        }
      }
    }
    try (PreparedStatement p =
        c.prepareStatement(
            "INSERT INTO ratings(rater_id, item_id, axis, choice, answered_at) VALUES (?, ?, ?, ?,"
                + " ?)")) {
      p.setLong(1, raterId);
      p.setLong(2, itemId);
      p.setString(3, axis);
      p.setString(4, choice);
      p.setString(5, Instant.now().toString());
      p.executeUpdate();
    } catch (SQLException e) {
      if (e.getMessage() != null && e.getMessage().contains("UNIQUE")) {
        throw new IllegalArgumentException(
            where + ": rater '" + rater + "' already rated item '" + item + "' on " + axis);
      }
      throw e;
    }
  }

  private static Long id(Connection c, String sql, String value) throws SQLException {
    try (PreparedStatement p = c.prepareStatement(sql)) {
      p.setString(1, value);
      try (ResultSet r = p.executeQuery()) {
        return r.next() ? r.getLong(1) : null;
      }
    }
  }

  private static boolean isCsv(Path file) {
    String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
    if (name.endsWith(".csv")) {
      return true;
    }
    if (name.endsWith(".jsonl") || name.endsWith(".json")) {
      return false;
    }
    throw new IllegalArgumentException(file + ": use a .csv or .jsonl file name");
  }

  private static String csvCell(String value) {
    if (value.contains(",") || value.contains("\"") || value.contains("\n")) {
      return "\"" + value.replace("\"", "\"\"") + "\"";
    }
    return value;
  }

  /** One CSV line (RFC 4180 quoting, no embedded newlines). */
  static List<String> csvRow(String line, Path file, int number) {
    List<String> cells = new ArrayList<>();
    StringBuilder cell = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char ch = line.charAt(i);
      if (quoted) {
        if (ch == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
          cell.append('"');
          i++;
        } else if (ch == '"') {
          quoted = false;
        } else {
          cell.append(ch);
        }
      } else if (ch == '"') {
        quoted = true;
      } else if (ch == ',') {
        cells.add(cell.toString());
        cell.setLength(0);
      } else {
        cell.append(ch);
      }
    }
    if (quoted) {
      throw new IllegalArgumentException(file + ":" + number + ": unterminated quote");
    }
    cells.add(cell.toString());
    return cells;
  }
}
