package dev.genloom.evaluation.report;

import dev.genloom.evaluation.Alignment;
import dev.genloom.evaluation.ConfigMetrics;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The report's HTML view: renders a {@link ReportModel} into a self-contained page (the style sheet
 * inlined, tables, SVG charts, sample grids with their media embedded, human-evaluation tables).
 */
final class ReportPage {
  /** report.css, as inlined: comments and line breaks dropped. */
  private static final String STYLE = style();

  private ReportPage() {}

  /** The page; {@code grids} embeds each sample grid's media. */
  static String render(ReportModel report, SampleGridTable grids) throws IOException {
    StringBuilder h = new StringBuilder(1 << 16);
    String run = report.run();
    h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .append("<title>Genloom report: ")
        .append(Html.escape(run))
        .append("</title><style>")
        .append(STYLE)
        .append("</style></head><body>\n");
    h.append("<h1>Genloom report: ").append(Html.escape(run)).append("</h1>\n");
    h.append("<p class=\"note\">Features: ")
        .append(Html.escape(report.featuresDescription()))
        .append(". Reference: ")
        .append(Html.escape(report.reference()))
        .append(report.clip().isEmpty() ? "" : ". CLIP score: ")
        .append(Html.escape(report.clip()))
        .append(". ")
        .append(Html.escape(capitalize(report.comparability())))
        .append(".</p>\n");
    long dead = report.deadLetters();
    if (dead > 0) {
      h.append("<p class=\"warn\">")
          .append(dead)
          .append(" input(s) went to dead-letter.jsonl and are not in these tables.</p>\n");
    }
    configTable(h, report.configs());
    charts(h, report.configs());
    h.append("<h2>Samples</h2>\n");
    h.append(
        "<p class=\"note\">Same prompt and seed in each row; one column per configuration.</p>\n");
    grids.append(h, report.samples().image(), "Images", false);
    grids.append(h, report.samples().video(), "Text-to-video", true);
    grids.append(
        h, report.samples().videoFromReference(), "Image-to-video (from a reference frame)", true);
    h.append("<h2>Human evaluation</h2>\n");
    if (report.humanEval() == null) {
      h.append("<p class=\"note\">No human evaluation has been run on this run's media.</p>\n");
    } else {
      HumanEvalTables.append(h, report.humanEval());
    }
    h.append("</body></html>\n");
    return h.toString();
  }

  private static void configTable(StringBuilder h, List<ConfigMetrics> configs) {
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
          "vs baseline",
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
    for (ConfigMetrics c : configs) {
      h.append("<tr><td>").append(Html.escape(c.id())).append("</td>");
      h.append("<td>").append(Html.escape(c.model())).append("</td>");
      Html.cell(h, "items", c.items(), Html.number((double) c.items(), 0));
      Html.cell(h, "failed", c.failed(), Html.number((double) c.failed(), 0));
      Html.cell(h, "items_per_s", c.itemsPerSecond(), Html.number(c.itemsPerSecond(), 2));
      Html.cell(h, "wall_ms_median", c.wallMsMedian(), Html.number(c.wallMsMedian(), 0));
      Html.cell(h, "compute_ms_median", c.computeMsMedian(), Html.number(c.computeMsMedian(), 1));
      Html.cell(h, "block_saved", c.blockSaved(), Html.percent(c.blockSaved()));
      Html.cell(h, "speedup", c.speedup(), Html.number(c.speedup(), 2) + "× vs " + c.baseline());
      double psnr = c.versusBaseline() == null ? Double.NaN : c.versusBaseline().psnrDb();
      double ssim = c.versusBaseline() == null ? Double.NaN : c.versusBaseline().ssim();
      Html.cell(
          h,
          "versus_baseline.psnr_db",
          psnr,
          c.versusBaseline() == null
              ? "–"
              : Html.number(psnr, 1) + " dB, SSIM " + Html.number(ssim, 3));
      Html.cell(
          h,
          "fd",
          c.fd(),
          Html.number(c.fd(), 2) + " (n=" + c.samples() + ")" + (c.fdRankDeficient() ? " †" : ""));
      Html.cell(
          h,
          "kid_mean",
          c.kidMean(),
          Double.isFinite(c.kidMean())
              ? Html.number(c.kidMean(), 4) + " ± " + Html.number(c.kidStd(), 4)
              : "–");
      Alignment a = c.alignment();
      Html.cell(h, "alignment.all", a.allCorrect(), Html.percent(a.allCorrect()));
      Html.cell(h, "alignment.shape", a.shape(), Html.percent(a.shape()));
      Html.cell(h, "alignment.foreground", a.foreground(), Html.percent(a.foreground()));
      Html.cell(h, "alignment.background", a.background(), Html.percent(a.background()));
      double motion = c.motion() == null ? Double.NaN : c.motion().correct();
      Html.cell(h, "motion.correct", motion, Html.percent(motion));
      Html.cell(h, "clip_score", c.clipScore(), Html.number(c.clipScore(), 2));
      h.append("</tr>\n");
    }
    h.append("</tbody></table></div>\n");
    h.append(
        "<p class=\"note\">items/s: items over the summed per-item wall time the pipeline saw"
            + " (queueing and batching included). Worker ms/item: the item's share of the"
            + " worker's compute time (batch compute over batch size), median. Blocks saved: block"
            + " evaluations that caching skipped. Speedup: median worker ms/item of the model's"
            + " most expensive uncached configuration in this run over this one's (or the baseline"
            + " its grid entry named). Vs baseline: PSNR and SSIM of this configuration's media"
            + " against the baseline's on the same prompt items and seeds, mean over pairs (each"
            + " PSNR capped at 100 dB); a fewer-steps uncached row beside a cached one at the same"
            + " speedup is the equal-compute comparison. FD and KID: against the reference,"
            + " over every frame; † fewer samples than feature dimensions, so FD is biased"
            + " upwards. Aligned: shape, foreground and background all as prompted"
            + " (shapes-features). Motion: the shape's centroid moved at least 1 px in the"
            + " prompted direction. CLIP: mean of 100 cos(image, prompt) over every frame,"
            + " clamped at 0, with the CLIP package named above (scores from different encoder"
            + " pairs are not comparable).</p>\n");
  }

  private static void charts(StringBuilder h, List<ConfigMetrics> configs) {
    List<SvgChart.Point> points = new ArrayList<>();
    List<SvgChart.Bar> bars = new ArrayList<>();
    for (ConfigMetrics c : configs) {
      if (Double.isFinite(c.speedup()) && Double.isFinite(c.fd())) {
        points.add(new SvgChart.Point(c.model(), c.id(), c.speedup(), c.fd()));
      }
      bars.add(new SvgChart.Bar(c.id(), c.alignment().allCorrect()));
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

  private static String capitalize(String s) {
    return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
  }

  private static String style() {
    try (InputStream in = ReportPage.class.getResourceAsStream("report.css")) {
      if (in == null) {
        throw new IllegalStateException("report.css is missing from the evaluation jar");
      }
      String css = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      return css.replaceAll("(?s)/\\*.*?\\*/", "").replace("\n", "");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read report.css", e);
    }
  }
}
