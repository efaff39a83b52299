package dev.genloom.evaluation.report;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.genloom.proto.MediaKind;
import dev.genloom.proto.v1.RunRecord;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One sample grid of the report: rows of (prompt, seed) that the configurations of one media kind
 * generated, columns the configurations.
 *
 * @param configs the columns, in the order the rows first show them
 * @param rows at most {@link #ROWS} rows, those every configuration filled first
 */
public record SampleGrid(List<String> configs, List<Row> rows) {
  /** Rows (prompt and seed pairs) per sample grid. */
  static final int ROWS = 8;

  public SampleGrid {
    configs = List.copyOf(configs);
    rows = List.copyOf(rows);
  }

  /**
   * One prompt and seed across the configurations.
   *
   * @param prompt the prompt
   * @param seed the seed
   * @param referenceImage the reference frame of image-to-video items, else empty
   * @param cells each configuration's media path relative to the run; a configuration without this
   *     prompt and seed has none
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Row(String prompt, long seed, String referenceImage, Map<String, String> cells) {
    public Row {
      cells = Collections.unmodifiableMap(new LinkedHashMap<>(cells));
    }
  }

  /** Sample grids: images, text-to-video, and image-to-video (a reference frame given). */
  public enum Section {
    IMAGE,
    VIDEO,
    VIDEO_FROM_REFERENCE;

    boolean holds(RunRecord r) {
      boolean video = MediaKind.ofFileName(r.getMedia()) == MediaKind.MP4;
      return switch (this) {
        case IMAGE -> !video;
        case VIDEO -> video && r.getReferenceImage().isEmpty();
        case VIDEO_FROM_REFERENCE -> video && !r.getReferenceImage().isEmpty();
      };
    }
  }

  /**
   * The grid of a section from a run's records: the rows are (prompt, seed) pairs, first by seed
   * and then in input order, so the first rows show different prompts.
   */
  public static SampleGrid of(List<RunRecord> records, Section section) {
    Map<String, Map<String, RunRecord>> byRow = new LinkedHashMap<>();
    List<String> configs = new ArrayList<>();
    List<RunRecord> sorted = new ArrayList<>(records);
    sorted.sort(
        Comparator.comparingLong(RunRecord::getSeed)
            .thenComparingLong(RunRecord::getSourceLine)
            .thenComparing(RunRecord::getPrompt)
            .thenComparing(RunRecord::getModel)
            .thenComparing(RunRecord::getConfig));
    for (RunRecord r : sorted) {
      if (r.getStatus() != RunRecord.Status.STATUS_OK || !section.holds(r)) {
        continue;
      }
      if (!configs.contains(r.getConfig())) {
        configs.add(r.getConfig());
      }
      String row = r.getPrompt() + "\u0000" + r.getSeed() + "\u0000" + r.getReferenceImage();
      byRow.computeIfAbsent(row, k -> new LinkedHashMap<>()).putIfAbsent(r.getConfig(), r);
    }
    // Rows every configuration filled come first; then the rest, so no configuration is hidden.
    List<Map<String, RunRecord>> ordered = new ArrayList<>();
    byRow.values().stream().filter(row -> row.size() == configs.size()).forEach(ordered::add);
    byRow.values().stream().filter(row -> row.size() < configs.size()).forEach(ordered::add);
    List<Row> rows = new ArrayList<>();
    for (Map<String, RunRecord> cells : ordered.subList(0, Math.min(ROWS, ordered.size()))) {
      RunRecord first = cells.values().iterator().next();
      Map<String, String> media = new LinkedHashMap<>();
      cells.forEach((config, r) -> media.put(config, r.getMedia()));
      rows.add(new Row(first.getPrompt(), first.getSeed(), first.getReferenceImage(), media));
    }
    return new SampleGrid(configs, rows);
  }
}
