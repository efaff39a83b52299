package dev.genloom.evaluation.humaneval;

import java.util.List;

/**
 * The rating app's pages. Everything a rater sees is here, and none of it names a configuration:
 * the two sides are "A" and "B", media are reached by opaque keys.
 */
final class RatingPages {
  /** A page and the nonce its inline style and script carry (for the CSP header). */
  record Page(String html, String nonce) {}

  private RatingPages() {}

  private static final String STYLE =
      "body{font-family:system-ui,sans-serif;margin:0 auto;padding:1rem;max-width:960px;color:#111}"
          + "h1{font-size:1.2rem}.prompt{font-size:1.1rem;margin:.5rem 0 1rem}"
          + ".pair{display:flex;gap:1rem;justify-content:center;flex-wrap:wrap}"
          + ".side{text-align:center;flex:1 1 260px;max-width:420px}"
          + ".side img,.side video{width:100%;max-width:384px;aspect-ratio:1;image-rendering:pixelated;"
          + "border:1px solid #999}"
          + ".label{font-weight:bold;font-size:1.3rem}"
          + "fieldset{border:1px solid #bbb;margin:.8rem 0;padding:.5rem}"
          + "fieldset.current{border-color:#1f5fbf;border-width:2px}"
          + "label{display:inline-block;margin:.3rem .8rem;font-size:1.05rem;cursor:pointer}"
          + "input[type=radio]{transform:scale(1.3);margin-right:.3rem}"
          + "button{font-size:1rem;padding:.5rem 1.2rem;margin:.3rem}"
          + ".progress{color:#444}.keys{color:#555;font-size:.85rem}"
          + "progress{width:100%;height:.8rem}"
          + "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.3rem .6rem}";

  private static String head(String title, String nonce) {
    return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        + "<meta name=\"referrer\" content=\"no-referrer\">"
        + "<title>"
        + esc(title)
        + "</title><style nonce=\""
        + nonce
        + "\">"
        + STYLE
        + "</style></head><body>";
  }

  static Page message(String title, String text) {
    String nonce = Tokens.newKey();
    return new Page(
        head(title, nonce) + "<h1>" + esc(title) + "</h1><p>" + esc(text) + "</p></body></html>",
        nonce);
  }

  static Page task(
      String base,
      RatingStore.Task task,
      List<RatingStore.Axis> axes,
      RatingStore.Progress progress,
      String csrf,
      String undoCsrf) {
    String nonce = Tokens.newKey();
    StringBuilder h = new StringBuilder(head("Which is better?", nonce));
    h.append("<h1>Compare A and B</h1>");
    h.append("<p class=\"progress\">Item ")
        .append(progress.answered() + 1)
        .append(" of ")
        .append(progress.assigned())
        .append("</p><progress max=\"")
        .append(progress.assigned())
        .append("\" value=\"")
        .append(progress.answered())
        .append("\"></progress>");
    h.append("<p class=\"prompt\">Prompt: <q>").append(esc(task.prompt())).append("</q></p>");
    h.append("<div class=\"pair\">");
    side(h, base, "A", task.leftMedia(), task.leftMime());
    side(h, base, "B", task.rightMedia(), task.rightMime());
    h.append("</div>");
    h.append("<form id=\"rate\" method=\"post\" action=\"").append(base).append("/rate\">");
    h.append("<input type=\"hidden\" name=\"item\" value=\"").append(task.publicId()).append("\">");
    h.append("<input type=\"hidden\" name=\"csrf\" value=\"").append(csrf).append("\">");
    for (RatingStore.Axis axis : axes) {
      h.append("<fieldset data-axis=\"").append(esc(axis.name())).append("\"><legend>");
      h.append(esc(axis.question())).append("</legend>");
      for (String[] option :
          new String[][] {
            {"left", "A"}, {"right", "B"}, {"tie", "Both good"}, {"both_bad", "Both bad"}
          }) {
        h.append("<label><input type=\"radio\" required name=\"axis_")
            .append(esc(axis.name()))
            .append("\" value=\"")
            .append(option[0])
            .append("\">")
            .append(option[1])
            .append("</label>");
      }
      h.append("</fieldset>");
    }
    h.append("<button type=\"submit\" id=\"send\">Submit (Enter)</button></form>");
    undoForm(h, base, undoCsrf, progress.answered() > 0);
    h.append(
        "<p class=\"keys\">Keys: <b>A</b>, <b>B</b>, <b>T</b> (both good) or <b>N</b> (both"
            + " bad) answers the highlighted question and moves to the next; <b>Enter</b> submits;"
            + " <b>U</b> undoes your last answer.</p>");
    h.append("<script nonce=\"").append(nonce).append("\">").append(SCRIPT).append("</script>");
    h.append("</body></html>");
    return new Page(h.toString(), nonce);
  }

  private static final String SCRIPT =
      "(function(){const sets=[...document.querySelectorAll('fieldset[data-axis]')];"
          + "function current(){return sets.find(s=>!s.querySelector('input:checked'))}"
          + "function mark(){sets.forEach(s=>s.classList.remove('current'));"
          + "const c=current();if(c)c.classList.add('current');}"
          + "sets.forEach(s=>s.addEventListener('change',mark));mark();"
          + "document.addEventListener('keydown',e=>{if(e.ctrlKey||e.metaKey||e.altKey)return;"
          + "const k=e.key.toLowerCase();const v={a:'left',b:'right',t:'tie',n:'both_bad'}[k];"
          + "if(v){const c=current()||sets[sets.length-1];"
          + "const i=c.querySelector('input[value='+v+']');i.checked=true;mark();e.preventDefault();}"
          + "else if(k==='enter'){if(!current()){document.getElementById('rate').requestSubmit();}"
          + "e.preventDefault();}"
          + "else if(k==='u'){const u=document.getElementById('undo');if(u)u.requestSubmit();}});})();";

  private static void side(StringBuilder h, String base, String label, String key, String mime) {
    h.append("<div class=\"side\"><div class=\"label\">").append(label).append("</div>");
    String src = base + "/media/" + key;
    if (mime.startsWith("video/")) {
      h.append("<video autoplay loop muted playsinline controls src=\"")
          .append(src)
          .append("\"></video>");
    } else {
      h.append("<img alt=\"").append(label).append("\" src=\"").append(src).append("\">");
    }
    h.append("</div>");
  }

  private static void undoForm(StringBuilder h, String base, String csrf, boolean enabled) {
    if (!enabled) {
      return;
    }
    h.append("<form id=\"undo\" method=\"post\" action=\"")
        .append(base)
        .append("/undo\"><input type=\"hidden\" name=\"csrf\" value=\"")
        .append(csrf)
        .append("\"><button type=\"submit\">Undo last answer (U)</button></form>");
  }

  static Page done(String base, RatingStore.Progress progress, String undoCsrf) {
    String nonce = Tokens.newKey();
    StringBuilder h = new StringBuilder(head("All done", nonce));
    h.append("<h1>All done, thank you</h1><p class=\"progress\">")
        .append(progress.answered())
        .append(" of ")
        .append(progress.assigned())
        .append(" items answered.</p>");
    undoForm(h, base, undoCsrf, progress.answered() > 0);
    h.append("</body></html>");
    return new Page(h.toString(), nonce);
  }

  static Page admin(List<RatingStore.Progress> raters) {
    String nonce = Tokens.newKey();
    StringBuilder h = new StringBuilder(head("Study progress", nonce));
    h.append("<h1>Completion per rater</h1><table><tr><th>rater</th><th>answered</th>")
        .append("<th>assigned</th><th>done</th></tr>");
    for (RatingStore.Progress p : raters) {
      h.append("<tr><td>")
          .append(esc(p.name()))
          .append("</td><td>")
          .append(p.answered())
          .append("</td><td>")
          .append(p.assigned())
          .append("</td><td>")
          .append(p.assigned() == 0 ? "–" : (100 * p.answered() / p.assigned()) + "%")
          .append("</td></tr>");
    }
    h.append("</table></body></html>");
    return new Page(h.toString(), nonce);
  }

  static String esc(String text) {
    return text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\"", "&quot;")
        .replace("'", "&#39;");
  }
}
