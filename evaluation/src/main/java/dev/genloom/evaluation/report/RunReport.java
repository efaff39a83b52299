package dev.genloom.evaluation.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.genloom.evaluation.RunMetrics;
import dev.genloom.generators.MediaFiles;
import dev.genloom.proto.MediaKind;
import dev.genloom.proto.RunRecords;
import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a run's report: {@code report.json} (the metrics, the quality/cost frontier and the sample
 * grids) and a self-contained {@code report.html} (tables, SVG charts, images and videos embedded,
 * no network access needed). Numbers come from {@code metrics.json} as they are.
 */
public final class RunReport {
  public static final String JSON_FILE = "report.json";
  public static final String HTML_FILE = "report.html";

  /** Human-evaluation results, when a study has been run on this run's media. */
  public static final String HUMAN_EVAL_FILE = "humaneval.json";

  /** Rows (prompt and seed pairs) per sample grid. */
  static final int GRID_ROWS = 8;

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Path runDir;

  public RunReport(Path runDir) {
    this.runDir = runDir;
  }

  /** Writes both files and returns the HTML page's path. */
  public Path write() throws IOException {
    Path metricsFile = runDir.resolve(RunMetrics.FILE);
    if (!Files.isRegularFile(metricsFile)) {
      throw new IllegalArgumentException(
          "report: "
              + runDir
              + " has no "
              + RunMetrics.FILE
              + "; run 'genloom eval run --run "
              + runDir
              + "' first");
    }
    JsonNode metrics = JSON.readTree(metricsFile.toFile());
    List<RunRecord> records = RunRecords.read(runDir);
    ObjectNode report = JSON.createObjectNode();
    report.put("run", metrics.path("run").asText());
    report.put("features", metrics.path("features").asText());
    report.put("features_description", metrics.path("features_description").asText());
    report.put("comparability", metrics.path("comparability").asText());
    report.put("reference", metrics.path("reference").asText());
    report.put("clip", metrics.path("clip").asText());
    report.put("dead_letters", metrics.path("dead_letters").asLong());
    report.set("configs", metrics.path("configs").deepCopy());
    ArrayNode frontier = report.putArray("frontier");
    for (JsonNode c : metrics.path("configs")) {
      ObjectNode p = frontier.addObject();
      p.put("id", c.path("id").asText());
      p.put("model", c.path("model").asText());
      p.set("speedup", c.path("speedup"));
      p.set("block_saved", c.path("block_saved"));
      p.set("fd", c.path("fd"));
    }
    ObjectNode grids = report.putObject("samples");
    grids.set("image", grid(records, Section.IMAGE));
    grids.set("video", grid(records, Section.VIDEO));
    grids.set("video_from_reference", grid(records, Section.VIDEO_FROM_REFERENCE));
    Path human = runDir.resolve(HUMAN_EVAL_FILE);
    report.set("human_eval", Files.isRegularFile(human) ? JSON.readTree(human.toFile()) : null);
    Files.writeString(runDir.resolve(JSON_FILE), JSON.writeValueAsString(report) + "\n");
    Path html = runDir.resolve(HTML_FILE);
    Files.writeString(html, html(report));
    return html;
  }

  /**
   * Rows of (prompt, seed) that every configuration of the media kind generated, in manifest order;
   * columns are the configurations. Each cell is the media path relative to the run.
   */
  /** Sample grids: images, text-to-video, and image-to-video (a reference frame given). */
  enum Section {
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

  private ObjectNode grid(List<RunRecord> records, Section section) {
    Map<String, Map<String, RunRecord>> byRow = new LinkedHashMap<>();
    List<String> configs = new ArrayList<>();
    List<RunRecord> sorted = new ArrayList<>(records);
    // Seed, then input order: the first rows show different prompts.
    sorted.sort(
        java.util.Comparator.comparingLong(RunRecord::getSeed)
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
    ObjectNode grid = JSON.createObjectNode();
    ArrayNode columns = grid.putArray("configs");
    configs.forEach(columns::add);
    ArrayNode rows = grid.putArray("rows");
    // Rows every configuration filled come first; then the rest, so no configuration is hidden.
    List<Map.Entry<String, Map<String, RunRecord>>> ordered = new ArrayList<>();
    byRow.entrySet().stream()
        .filter(e -> e.getValue().size() == configs.size())
        .forEach(ordered::add);
    byRow.entrySet().stream()
        .filter(e -> e.getValue().size() < configs.size())
        .forEach(ordered::add);
    for (Map.Entry<String, Map<String, RunRecord>> e : ordered) {
      if (rows.size() >= GRID_ROWS) {
        break;
      }
      RunRecord first = e.getValue().values().iterator().next();
      ObjectNode row = rows.addObject();
      row.put("prompt", first.getPrompt());
      row.put("seed", first.getSeed());
      row.put("reference_image", first.getReferenceImage());
      ObjectNode cells = row.putObject("cells");
      e.getValue().forEach((config, r) -> cells.put(config, r.getMedia()));
    }
    return grid;
  }

  private String html(JsonNode report) throws IOException {
    StringBuilder h = new StringBuilder(1 << 16);
    String run = report.path("run").asText();
    h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .append("<title>Genloom report: ")
        .append(Html.escape(run))
        .append("</title><style>")
        .append(STYLE)
        .append("</style></head><body>\n");
    h.append("<h1>Genloom report: ").append(Html.escape(run)).append("</h1>\n");
    h.append("<p class=\"note\">Features: ")
        .append(Html.escape(report.path("features_description").asText()))
        .append(". Reference: ")
        .append(Html.escape(report.path("reference").asText()))
        .append(report.path("clip").asText().isEmpty() ? "" : ". CLIP score: ")
        .append(Html.escape(report.path("clip").asText()))
        .append(". ")
        .append(Html.escape(capitalize(report.path("comparability").asText())))
        .append(".</p>\n");
    long dead = report.path("dead_letters").asLong();
    if (dead > 0) {
      h.append("<p class=\"warn\">")
          .append(dead)
          .append(" input(s) went to dead-letter.jsonl and are not in these tables.</p>\n");
    }
    configTable(h, report.path("configs"));
    charts(h, report.path("configs"));
    h.append("<h2>Samples</h2>\n");
    h.append(
        "<p class=\"note\">Same prompt and seed in each row; one column per configuration.</p>\n");
    sampleGrid(h, report.path("samples").path("image"), "Images", false);
    sampleGrid(h, report.path("samples").path("video"), "Text-to-video", true);
    sampleGrid(
        h,
        report.path("samples").path("video_from_reference"),
        "Image-to-video (from a reference frame)",
        true);
    h.append("<h2>Human evaluation</h2>\n");
    JsonNode human = report.path("human_eval");
    if (human.isMissingNode() || human.isNull()) {
      h.append("<p class=\"note\">No human evaluation has been run on this run's media.</p>\n");
    } else {
      humanEval(h, human);
    }
    h.append("</body></html>\n");
    return h.toString();
  }

  /** Human-evaluation tables: one per axis, pairs with rates and intervals, then agreement. */
  private static void humanEval(StringBuilder h, JsonNode human) {
    h.append("<p class=\"note\">Blind pairwise ratings; rates over items by majority vote of")
        .append(" their raters; 95% bootstrap intervals over items (")
        .append(human.path("bootstrap_rounds").asInt())
        .append(" rounds). Net win rate = win − loss, in [−100, 100].</p>\n");
    for (JsonNode axis : human.path("axes")) {
      h.append("<h3>").append(Html.escape(axis.path("axis").asText())).append("</h3>\n");
      h.append("<div class=\"scroll\"><table class=\"human\"><thead><tr>");
      for (String col :
          new String[] {"A", "B", "items", "win", "tie", "loss", "win rate", "net win rate"}) {
        h.append("<th>").append(col).append("</th>");
      }
      h.append("</tr></thead><tbody>\n");
      for (JsonNode pair : axis.path("pairs")) {
        h.append("<tr><td>").append(Html.escape(pair.path("a").asText())).append("</td>");
        h.append("<td>").append(Html.escape(pair.path("b").asText())).append("</td>");
        cell(h, "items", pair.path("items"), pair.path("items").asText());
        cell(h, "majority.win", pair.at("/majority/win"), pair.at("/majority/win").asText());
        cell(h, "majority.tie", pair.at("/majority/tie"), pair.at("/majority/tie").asText());
        cell(h, "majority.loss", pair.at("/majority/loss"), pair.at("/majority/loss").asText());
        cell(
            h,
            "win_rate",
            pair.path("win_rate"),
            Html.percent(num(pair, "win_rate"))
                + " ["
                + Html.percent(pair.at("/win_rate_ci/0").asDouble())
                + ", "
                + Html.percent(pair.at("/win_rate_ci/1").asDouble())
                + "] (n = "
                + pair.path("items").asInt()
                + ")");
        cell(
            h,
            "net_win_rate",
            pair.path("net_win_rate"),
            Html.number(num(pair, "net_win_rate"), 1)
                + " ["
                + Html.number(pair.at("/net_win_rate_ci/0").asDouble(), 1)
                + ", "
                + Html.number(pair.at("/net_win_rate_ci/1").asDouble(), 1)
                + "] (n = "
                + pair.path("items").asInt()
                + ")");
        h.append("</tr>\n");
        if (pair.has("warning")) {
          h.append("<tr><td colspan=\"8\" class=\"note\">⚠ ")
              .append(Html.escape(pair.path("warning").asText()))
              .append("</td></tr>\n");
        }
      }
      h.append("</tbody></table></div>\n<p class=\"note\">Fleiss' κ ")
          .append(Html.number(num(axis, "fleiss_kappa"), 3))
          .append(" over ")
          .append(axis.path("kappa_items").asInt())
          .append(" items; self-consistency ")
          .append(Html.percent(num(axis, "self_consistency")))
          .append(" over ")
          .append(axis.path("repeat_pairs").asInt())
          .append(" repeated answers.");
      if (axis.has("bradley_terry")) {
        h.append(" Bradley-Terry ratings (mean 1000): ");
        List<String> parts = new ArrayList<>();
        for (JsonNode bt : axis.path("bradley_terry")) {
          if (bt.path("rating").isNull() || bt.path("rating").isMissingNode()) {
            parts.add(Html.escape(bt.path("config").asText()) + " – (never rated)");
            continue;
          }
          String note = bt.has("note") ? " ⚠ " + Html.escape(bt.path("note").asText()) : "";
          parts.add(
              Html.escape(bt.path("config").asText())
                  + " "
                  + Html.number(num(bt, "rating"), 1)
                  + " ["
                  + Html.number(bt.at("/ci/0").asDouble(), 1)
                  + ", "
                  + Html.number(bt.at("/ci/1").asDouble(), 1)
                  + "] (n = "
                  + bt.path("battles").asInt()
                  + ")"
                  + note);
        }
        h.append(String.join("; ", parts)).append('.');
      }
      h.append("</p>\n");
    }
  }

  private static void configTable(StringBuilder h, JsonNode configs) {
    h.append("<h2>Configurations</h2>\n<div class=\"scroll\"><table id=\"configs\"><thead><tr>");
    for (String col :
        new String[] {
          "configuration",
          "model",
          "items",
          "failed",
          "items/s",
          "median ms/item",
          "worker ms/item",
          "blocks saved",
          "speedup",
          "FD",
          "KID",
          "aligned",
          "shape",
          "fg",
          "bg",
          "motion",
          "CLIP"
        }) {
      h.append("<th>").append(Html.escape(col)).append("</th>");
    }
    h.append("</tr></thead><tbody>\n");
    for (JsonNode c : configs) {
      h.append("<tr><td>").append(Html.escape(c.path("id").asText())).append("</td>");
      h.append("<td>").append(Html.escape(c.path("model").asText())).append("</td>");
      cell(h, "items", c.path("items"), Html.number(num(c, "items"), 0));
      cell(h, "failed", c.path("failed"), Html.number(num(c, "failed"), 0));
      cell(h, "items_per_s", c.path("items_per_s"), Html.number(num(c, "items_per_s"), 2));
      cell(h, "wall_ms_median", c.path("wall_ms_median"), Html.number(num(c, "wall_ms_median"), 0));
      cell(
          h,
          "compute_ms_median",
          c.path("compute_ms_median"),
          Html.number(num(c, "compute_ms_median"), 1));
      cell(h, "block_saved", c.path("block_saved"), Html.percent(num(c, "block_saved")));
      cell(
          h,
          "speedup",
          c.path("speedup"),
          Html.number(num(c, "speedup"), 2) + "× vs " + c.path("baseline").asText());
      cell(
          h,
          "fd",
          c.path("fd"),
          Html.number(num(c, "fd"), 2)
              + " (n="
              + c.path("samples").asInt()
              + ")"
              + (c.path("fd_rank_deficient").asBoolean() ? " †" : ""));
      cell(
          h,
          "kid_mean",
          c.path("kid_mean"),
          num(c, "kid_mean") == null
              ? "–"
              : Html.number(num(c, "kid_mean"), 4) + " ± " + Html.number(num(c, "kid_std"), 4));
      JsonNode a = c.path("alignment");
      cell(h, "alignment.all", a.path("all"), Html.percent(num(a, "all")));
      cell(h, "alignment.shape", a.path("shape"), Html.percent(num(a, "shape")));
      cell(h, "alignment.foreground", a.path("foreground"), Html.percent(num(a, "foreground")));
      cell(h, "alignment.background", a.path("background"), Html.percent(num(a, "background")));
      JsonNode m = c.path("motion");
      cell(h, "motion.correct", m.path("correct"), Html.percent(num(m, "correct")));
      cell(h, "clip_score", c.path("clip_score"), Html.number(num(c, "clip_score"), 2));
      h.append("</tr>\n");
    }
    h.append("</tbody></table></div>\n");
    h.append(
        "<p class=\"note\">items/s: items over the summed per-item wall time the pipeline saw"
            + " (queueing and batching included). Worker ms/item: the item's share of the"
            + " worker's compute time (batch compute over batch size), median. Blocks saved: block"
            + " evaluations that caching skipped. Speedup: median worker ms/item of the model's"
            + " most expensive uncached configuration in this run over this one's. FD and KID: against the reference,"
            + " over every frame; † fewer samples than feature dimensions, so FD is biased"
            + " upwards. Aligned: shape, foreground and background all as prompted"
            + " (shapes-features). Motion: the shape's centroid moved at least 1 px in the"
            + " prompted direction. CLIP: mean of 100 cos(image, prompt) over every frame,"
            + " clamped at 0, with the CLIP package named above (scores from different encoder"
            + " pairs are not comparable).</p>\n");
  }

  private static void cell(StringBuilder h, String field, JsonNode raw, String shown) {
    h.append("<td data-field=\"").append(field).append("\"");
    if (raw != null && raw.isNumber()) {
      h.append(" data-value=\"").append(raw.asText()).append("\"");
    }
    h.append(">").append(Html.escape(shown)).append("</td>");
  }

  private static Double num(JsonNode node, String field) {
    JsonNode v = node.path(field);
    return v.isNumber() ? v.asDouble() : null;
  }

  private static void charts(StringBuilder h, JsonNode configs) {
    List<SvgChart.Point> points = new ArrayList<>();
    List<SvgChart.Bar> bars = new ArrayList<>();
    for (JsonNode c : configs) {
      Double speedup = num(c, "speedup");
      Double fd = num(c, "fd");
      if (speedup != null && fd != null) {
        points.add(
            new SvgChart.Point(c.path("model").asText(), c.path("id").asText(), speedup, fd));
      }
      Double all = num(c.path("alignment"), "all");
      bars.add(new SvgChart.Bar(c.path("id").asText(), all == null ? Double.NaN : all));
    }
    h.append("<h2>Quality and cost</h2>\n<div class=\"charts\">\n<figure>");
    h.append(
        SvgChart.scatter(
            "FD against speedup per configuration",
            "speedup over the model's uncached baseline (×)",
            "FD (lower is better)",
            points));
    h.append("<figcaption>Quality/cost frontier: lower and further right is better.</figcaption>");
    h.append("</figure>\n<figure>");
    h.append(
        SvgChart.bars(
            "Prompt alignment per configuration", "all three attributes correct", bars, 1.0));
    h.append("<figcaption>Shapes-features prompt alignment.</figcaption></figure>\n</div>\n");
  }

  private void sampleGrid(StringBuilder h, JsonNode grid, String title, boolean video)
      throws IOException {
    JsonNode configs = grid.path("configs");
    if (configs.size() == 0) {
      return;
    }
    h.append("<h3>").append(Html.escape(title)).append("</h3>\n");
    h.append(
        "<div class=\"scroll\"><table class=\"samples\"><thead><tr><th>prompt</th><th>seed</th>");
    for (JsonNode c : configs) {
      h.append("<th>").append(Html.escape(c.asText())).append("</th>");
    }
    h.append("</tr></thead><tbody>\n");
    for (JsonNode row : grid.path("rows")) {
      h.append("<tr><td class=\"prompt\">").append(Html.escape(row.path("prompt").asText()));
      String reference = row.path("reference_image").asText();
      if (!reference.isEmpty()) {
        h.append("<br><span class=\"note\">reference: ")
            .append(Html.escape(reference.substring(reference.lastIndexOf('/') + 1)))
            .append("</span>");
      }
      h.append("</td><td>").append(row.path("seed").asLong()).append("</td>");
      for (JsonNode c : configs) {
        JsonNode media = row.path("cells").path(c.asText());
        h.append("<td>");
        if (media.isTextual()) {
          h.append(video ? videoCell(media.asText()) : imageCell(media.asText()));
        } else {
          h.append("–");
        }
        h.append("</td>");
      }
      h.append("</tr>\n");
    }
    h.append("</tbody></table></div>\n");
  }

  private String imageCell(String media) throws IOException {
    Path file = resolve(media);
    return "<img class=\"sample\" alt=\"sample\" src=\"data:image/png;base64,"
        + Base64.getEncoder().encodeToString(Files.readAllBytes(file))
        + "\">";
  }

  private String videoCell(String media) throws IOException {
    Path file = resolve(media);
    byte[] sheet = MediaFiles.contactSheet(MediaFiles.readMp4(file)).toPng();
    return String.format(
        Locale.ROOT,
        "<video class=\"sample\" autoplay loop muted playsinline src=\"data:video/mp4;base64,%s\"></video>"
            + "<br><img class=\"sheet\" alt=\"frames\" src=\"data:image/png;base64,%s\">",
        Base64.getEncoder().encodeToString(Files.readAllBytes(file)),
        Base64.getEncoder().encodeToString(sheet));
  }

  private Path resolve(String media) {
    return RunRecords.media(runDir, RunRecord.newBuilder().setMedia(media).build());
  }

  private static String capitalize(String s) {
    return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
  }

  /** report.css, as inlined: comments and line breaks dropped. */
  private static final String STYLE = style();

  private static String style() {
    try (java.io.InputStream in = RunReport.class.getResourceAsStream("report.css")) {
      if (in == null) {
        throw new IllegalStateException("report.css is missing from the evaluation jar");
      }
      String css = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      return css.replaceAll("(?s)/\\*.*?\\*/", "").replace("\n", "");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot read report.css", e);
    }
  }
}
