package dev.genloom.evaluation.report;

import dev.genloom.generators.MediaFiles;
import dev.genloom.proto.RunRecords;
import dev.genloom.proto.v1.RunRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Locale;

/**
 * A {@link SampleGrid} as an HTML table, its media embedded as data URIs (videos with a contact
 * sheet of their frames); media paths are resolved inside the run folder.
 */
final class SampleGridTable {
  private final Path runDir;

  SampleGridTable(Path runDir) {
    this.runDir = runDir;
  }

  /** Appends the grid under {@code title}; an empty grid appends nothing. */
  void append(StringBuilder h, SampleGrid grid, String title, boolean video) throws IOException {
    if (grid.configs().isEmpty()) {
      return;
    }
    h.append("<h3>").append(Html.escape(title)).append("</h3>\n");
    h.append(
        "<div class=\"scroll\"><table class=\"samples\"><thead><tr><th>prompt</th><th>seed</th>");
    for (String c : grid.configs()) {
      h.append("<th>").append(Html.escape(c)).append("</th>");
    }
    h.append("</tr></thead><tbody>\n");
    for (SampleGrid.Row row : grid.rows()) {
      h.append("<tr><td class=\"prompt\">").append(Html.escape(row.prompt()));
      String reference = row.referenceImage();
      if (!reference.isEmpty()) {
        h.append("<br><span class=\"note\">reference: ")
            .append(Html.escape(reference.substring(reference.lastIndexOf('/') + 1)))
            .append("</span>");
      }
      h.append("</td><td>").append(row.seed()).append("</td>");
      for (String c : grid.configs()) {
        String media = row.cells().get(c);
        h.append("<td>");
        if (media != null) {
          h.append(video ? videoCell(media) : imageCell(media));
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
}
