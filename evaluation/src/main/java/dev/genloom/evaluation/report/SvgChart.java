package dev.genloom.evaluation.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Small SVG charts for reports: a labelled scatter plot and horizontal bars. Black text and axes on
 * white, and a distinct marker shape per series, so charts stay readable when printed in grey.
 */
final class SvgChart {
  private static final String[] COLORS = {
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"
  };
  private static final int WIDTH = 640;
  private static final int HEIGHT = 360;
  private static final int LEFT = 64;
  private static final int RIGHT = 160;
  private static final int TOP = 24;
  private static final int BOTTOM = 48;

  /** One point of a scatter plot. */
  record Point(String series, String label, double x, double y) {}

  /** One bar of a bar chart. */
  record Bar(String label, double value) {}

  private SvgChart() {}

  static String scatter(String title, String xTitle, String yTitle, List<Point> points) {
    List<Point> shown = points.stream().filter(p -> finite(p.x()) && finite(p.y())).toList();
    StringBuilder svg = open(title);
    if (shown.isEmpty()) {
      svg.append(text(WIDTH / 2.0, HEIGHT / 2.0, "middle", "no data to plot")).append("</svg>");
      return svg.toString();
    }
    double[] xr =
        niceRange(
            shown.stream().mapToDouble(Point::x).min().orElse(0),
            shown.stream().mapToDouble(Point::x).max().orElse(1));
    double[] yr =
        niceRange(
            shown.stream().mapToDouble(Point::y).min().orElse(0),
            shown.stream().mapToDouble(Point::y).max().orElse(1));
    axes(svg, xr, yr, xTitle, yTitle);
    Map<String, Integer> series = new LinkedHashMap<>();
    for (Point p : shown) {
      series.putIfAbsent(p.series(), series.size());
    }
    for (Point p : shown) {
      int s = series.get(p.series());
      double px = sx(p.x(), xr);
      double py = sy(p.y(), yr);
      svg.append(marker(s, px, py));
      svg.append(
          String.format(
              Locale.ROOT,
              "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#000\">%s</text>",
              px + 7,
              py - 5,
              Html.escape(p.label())));
    }
    int row = 0;
    for (Map.Entry<String, Integer> e : series.entrySet()) {
      double ly = TOP + 12 + 18 * row++;
      svg.append(marker(e.getValue(), WIDTH - RIGHT + 20, ly - 4));
      svg.append(
          String.format(
              Locale.ROOT,
              "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" fill=\"#000\">%s</text>",
              WIDTH - RIGHT + 30,
              ly,
              Html.escape(e.getKey())));
    }
    return svg.append("</svg>").toString();
  }

  static String bars(String title, String xTitle, List<Bar> bars, double max) {
    int rowHeight = 22;
    int height = TOP + BOTTOM + rowHeight * Math.max(1, bars.size());
    int labelWidth = 220;
    int plotWidth = WIDTH - labelWidth - 60;
    StringBuilder svg = new StringBuilder();
    svg.append(
        String.format(
            Locale.ROOT,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" class=\"chart\" viewBox=\"0 0 %d %d\""
                + " width=\"%d\" height=\"%d\"><title>%s</title>"
                + "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>",
            WIDTH,
            height,
            WIDTH,
            height,
            Html.escape(title)));
    for (int i = 0; i < bars.size(); i++) {
      Bar bar = bars.get(i);
      double y = TOP + i * rowHeight;
      double w = finite(bar.value()) ? plotWidth * Math.max(0, bar.value()) / max : 0;
      svg.append(
          String.format(
              Locale.ROOT,
              "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#000\">%s</text>"
                  + "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\" stroke=\"#000\" stroke-width=\"0.5\"/>"
                  + "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#000\">%s</text>",
              labelWidth - 6,
              y + 14,
              Html.escape(bar.label()),
              labelWidth,
              y + 3,
              w,
              rowHeight - 6,
              COLORS[i % COLORS.length],
              labelWidth + w + 4,
              y + 14,
              finite(bar.value()) ? Html.percent(bar.value()) : "–"));
    }
    double axisY = TOP + rowHeight * bars.size() + 4;
    svg.append(
        String.format(
            Locale.ROOT,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#000\"/>",
            labelWidth,
            axisY,
            labelWidth + plotWidth,
            axisY));
    for (int t = 0; t <= 4; t++) {
      double x = labelWidth + plotWidth * t / 4.0;
      svg.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>"
                  + "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" fill=\"#000\">%s</text>",
              x,
              axisY,
              x,
              axisY + 4,
              x,
              axisY + 16,
              Html.percent(max * t / 4.0)));
    }
    svg.append(text(labelWidth + plotWidth / 2.0, axisY + 34, "middle", xTitle));
    return svg.append("</svg>").toString();
  }

  private static StringBuilder open(String title) {
    return new StringBuilder(
        String.format(
            Locale.ROOT,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" class=\"chart\" viewBox=\"0 0 %d %d\""
                + " width=\"%d\" height=\"%d\"><title>%s</title>"
                + "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>",
            WIDTH,
            HEIGHT,
            WIDTH,
            HEIGHT,
            Html.escape(title)));
  }

  private static void axes(
      StringBuilder svg, double[] xr, double[] yr, String xTitle, String yTitle) {
    int x0 = LEFT;
    int x1 = WIDTH - RIGHT;
    int y0 = HEIGHT - BOTTOM;
    int y1 = TOP;
    svg.append(
        String.format(
            Locale.ROOT,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>"
                + "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>",
            x0,
            y0,
            x1,
            y0,
            x0,
            y0,
            x0,
            y1));
    for (double t : ticks(xr)) {
      double x = sx(t, xr);
      svg.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ccc\"/>"
                  + "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" fill=\"#000\">%s</text>",
              x,
              y0,
              x,
              y1,
              x,
              y0 + 14,
              tick(t)));
    }
    for (double t : ticks(yr)) {
      double y = sy(t, yr);
      svg.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ccc\"/>"
                  + "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\" fill=\"#000\">%s</text>",
              x0,
              y,
              x1,
              y,
              x0 - 4,
              y + 3,
              tick(t)));
    }
    svg.append(text((x0 + x1) / 2.0, HEIGHT - 12, "middle", xTitle));
    svg.append(
        String.format(
            Locale.ROOT,
            "<text transform=\"translate(16,%.1f) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\" fill=\"#000\">%s</text>",
            (y0 + y1) / 2.0,
            Html.escape(yTitle)));
  }

  private static String marker(int series, double x, double y) {
    String color = COLORS[series % COLORS.length];
    return switch (series % 3) {
      case 0 ->
          String.format(
              Locale.ROOT,
              "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" stroke=\"#000\"/>",
              x,
              y,
              color);
      case 1 ->
          String.format(
              Locale.ROOT,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\" stroke=\"#000\"/>",
              x - 5,
              y - 5,
              color);
      default ->
          String.format(
              Locale.ROOT,
              "<path d=\"M%.1f %.1f L%.1f %.1f L%.1f %.1f Z\" fill=\"%s\" stroke=\"#000\"/>",
              x,
              y - 6,
              x + 6,
              y + 5,
              x - 6,
              y + 5,
              color);
    };
  }

  private static String text(double x, double y, String anchor, String content) {
    return String.format(
        Locale.ROOT,
        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"%s\" fill=\"#000\">%s</text>",
        x,
        y,
        anchor,
        Html.escape(content));
  }

  private static double sx(double x, double[] r) {
    return LEFT + (x - r[0]) / (r[1] - r[0]) * (WIDTH - RIGHT - LEFT);
  }

  private static double sy(double y, double[] r) {
    return HEIGHT - BOTTOM - (y - r[0]) / (r[1] - r[0]) * (HEIGHT - BOTTOM - TOP);
  }

  /** A range that starts and ends on round numbers and is never empty. */
  static double[] niceRange(double min, double max) {
    if (max - min < 1e-9) {
      double pad = Math.max(Math.abs(min) * 0.1, 1e-3);
      min -= pad;
      max += pad;
    }
    double step = step(min, max);
    return new double[] {Math.floor(min / step) * step, Math.ceil(max / step) * step};
  }

  private static double step(double min, double max) {
    double raw = (max - min) / 5;
    double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    double residual = raw / magnitude;
    double nice = residual > 5 ? 10 : residual > 2 ? 5 : residual > 1 ? 2 : 1;
    return nice * magnitude;
  }

  private static List<Double> ticks(double[] range) {
    double step = step(range[0], range[1]);
    List<Double> ticks = new ArrayList<>();
    for (double t = range[0]; t <= range[1] + step * 1e-6; t += step) {
      ticks.add(Math.abs(t) < step * 1e-9 ? 0 : t);
    }
    return ticks;
  }

  private static String tick(double value) {
    if (Math.abs(value) >= 100 || value == Math.rint(value)) {
      return String.format(Locale.ROOT, "%.0f", value);
    }
    return String.format(Locale.ROOT, Math.abs(value) >= 1 ? "%.1f" : "%.2f", value);
  }

  private static boolean finite(double v) {
    return Double.isFinite(v);
  }
}
