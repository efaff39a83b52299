package dev.genloom.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.genloom.evaluation.ConfigMetrics;
import dev.genloom.evaluation.EvalJson;
import dev.genloom.evaluation.RunMetrics;
import dev.genloom.evaluation.humaneval.HumanEvalSummary;
import dev.genloom.evaluation.report.ReportModel;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The whole loop on a small run: the pipeline generates with an in-process worker, {@code eval run}
 * scores it, {@code report} writes the pages; the report's numbers must be metrics.json's, and the
 * page must render in headless Chromium.
 */
class RunLoopTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String MODELS = Path.of("..", "models").toString();

  @TempDir static Path temp;
  static Path run;

  private static int genloom(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = Genloom.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int code = cli.execute(args);
    assertEquals(0, code, String.join(" ", args) + "\n" + out + "\n" + err);
    return code;
  }

  @BeforeAll
  static void generateEvaluateReport() throws Exception {
    String reference =
        Path.of("..", "examples", "real-shapes", "real_001.png").toAbsolutePath().toString();
    Path prompts = temp.resolve("prompts.jsonl");
    String images = "\"configs\": [\"tiny-ldm_4\", \"tiny-ldm_2\", \"tiny-ar-s2\"]";
    Files.writeString(
        prompts,
        String.join(
            "\n",
            "{\"prompt\": \"a red circle on a white background\", " + images + "}",
            "{\"prompt\": \"a blue square on a yellow background\", " + images + "}",
            "{\"prompt\": \"a red circle moving right on a white background\","
                + " \"configs\": [\"t2v_3\"], \"seeds\": 1}",
            "{\"prompt\": \"a red circle moving left on a white background\", \"reference_image\": \""
                + reference.replace("\\", "\\\\")
                + "\", \"configs\": [\"i2v_3\"], \"seeds\": 1}",
            "not json",
            ""));
    Path grid = temp.resolve("grid.json");
    Files.writeString(
        grid,
        "[{\"models\": [\"tiny-ldm\"], \"steps\": [4, 2]}, {\"models\": [\"tiny-ar-s2\"]},"
            + " {\"label\": \"t2v\", \"models\": [\"tiny-dit-video\"], \"steps\": [3]},"
            + " {\"label\": \"i2v\", \"models\": [\"tiny-dit-video\"], \"steps\": [3]}]");
    run = temp.resolve("run");
    genloom(
        "run",
        "--models",
        MODELS,
        "--prompts",
        prompts.toString(),
        "--grid",
        grid.toString(),
        "--seeds",
        "2",
        "--out",
        run.toString(),
        // the "not json" line is dead-lettered on purpose; without this the run exits 3
        "--allow-failures");
    genloom("eval", "run", "--models", MODELS, "--run", run.toString());
    genloom("report", "--run", run.toString());
  }

  private static Map<String, ConfigMetrics> byId(List<ConfigMetrics> configs) {
    Map<String, ConfigMetrics> out = new HashMap<>();
    configs.forEach(c -> out.put(c.id(), c));
    return out;
  }

  @Test
  void metricsCoverEveryConfiguration() throws Exception {
    RunMetrics metrics = RunMetrics.read(run);
    Map<String, ConfigMetrics> configs = byId(metrics.configs());
    assertEquals(
        java.util.Set.of("tiny-ldm_4", "tiny-ldm_2", "tiny-ar-s2", "t2v_3", "i2v_3"),
        configs.keySet());
    assertEquals(1, metrics.deadLetters());
    assertEquals(4, configs.get("tiny-ldm_4").items());
    assertEquals(ConfigMetrics.Media.IMAGE, configs.get("tiny-ldm_4").media());
    assertEquals(ConfigMetrics.Media.VIDEO, configs.get("t2v_3").media());
    assertEquals(8, configs.get("t2v_3").samples(), "every frame is scored");
    assertEquals(1, configs.get("i2v_3").motion().samples());
    // Half the steps, half the block evaluations; the 4-step run is the baseline.
    assertEquals(
        configs.get("tiny-ldm_4").blockEvals(), 2 * configs.get("tiny-ldm_2").blockEvals());
    assertEquals("tiny-ldm_4", configs.get("tiny-ldm_2").baseline());
    // the fewer-steps run is compared with its baseline's images on the same prompts and seeds
    var versus = configs.get("tiny-ldm_2").versusBaseline();
    assertEquals(4, versus.pairs(), versus.toString());
    assertTrue(versus.psnrDb() > 0 && versus.psnrDb() < 100, versus.toString());
    assertTrue(versus.ssim() > -1 && versus.ssim() < 1, versus.toString());
    assertEquals(null, configs.get("tiny-ldm_4").versusBaseline(), "its own baseline");
    for (ConfigMetrics c : configs.values()) {
      assertTrue(Double.isFinite(c.fd()), c.toString());
      assertTrue(Double.isFinite(c.kidMean()), "the shipped reference carries features: " + c);
      double aligned = c.alignment().allCorrect();
      assertTrue(aligned >= 0 && aligned <= 1, c.toString());
      assertTrue(c.computeMsMedian() > 0, c.toString());
    }
  }

  @Test
  void reportNumbersAreTheMetrics() throws Exception {
    RunMetrics metrics = RunMetrics.read(run);
    ReportModel report = EvalJson.read(run.resolve("report.json"), ReportModel.class);
    assertEquals(metrics.configs(), report.configs());
    assertEquals(metrics.features(), report.features());
    String html = Files.readString(run.resolve("report.html"));
    // Every numeric cell carries the exact metrics.json value it shows; a cell's data-field is
    // its path in the file.
    Pattern row = Pattern.compile("<tr><td>([^<]+)</td>(.*?)</tr>");
    Pattern cell = Pattern.compile("data-field=\"([a-z_.]+)\" data-value=\"([^\"]+)\"");
    Map<String, JsonNode> configs = new HashMap<>();
    JSON.readTree(run.resolve("metrics.json").toFile())
        .get("configs")
        .forEach(c -> configs.put(c.get("id").asText(), c));
    int checked = 0;
    Matcher rows = row.matcher(html);
    while (rows.find()) {
      JsonNode config = configs.get(rows.group(1));
      if (config == null) {
        continue;
      }
      Matcher cells = cell.matcher(rows.group(2));
      while (cells.find()) {
        JsonNode expected = config;
        for (String part : cells.group(1).split("\\.")) {
          expected = expected.get(part);
        }
        assertNotNull(expected, cells.group(1));
        assertEquals(expected.asDouble(), Double.parseDouble(cells.group(2)), cells.group(0));
        checked++;
      }
    }
    assertTrue(checked >= 5 * 10, "checked " + checked + " cells");
    assertTrue(html.contains("<svg"), "charts");
    assertTrue(html.contains("data:video/mp4;base64,"), "videos inline");
    assertFalse(html.contains("src=\"media/"), "self-contained: no links to files");
    assertEquals(
        List.of("tiny-ar-s2", "tiny-ldm_2", "tiny-ldm_4"), report.samples().image().configs());
  }

  @Test
  void humanEvaluationResultsReachTheReport() throws Exception {
    Path study = temp.resolve("study.db");
    genloom(
        "humaneval", "tasks",
        "--run", run.toString(),
        "--a", "tiny-ldm_4",
        "--b", "tiny-ldm_2",
        "--more", "tiny-ar-s2",
        "--raters", "r1,r2",
        "--raters-per-item", "2",
        "--axes", "visual_appeal",
        "--out", study.toString());
    // Ratings collected elsewhere: r1 always prefers the left image, r2 calls every item a tie.
    StringBuilder csv = new StringBuilder("rater,item,axis,choice\n");
    try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + study);
        var r =
            c.createStatement()
                .executeQuery(
                    "SELECT r.name, i.public_id FROM assignments a JOIN items i ON i.id ="
                        + " a.item_id JOIN raters r ON r.id = a.rater_id")) {
      while (r.next()) {
        csv.append(r.getString(1))
            .append(',')
            .append(r.getString(2))
            .append(",visual_appeal,")
            .append(r.getString(1).equals("r1") ? "left" : "tie")
            .append('\n');
      }
    }
    Path ratings = temp.resolve("ratings.csv");
    Files.writeString(ratings, csv);
    genloom("humaneval", "import", "--db", study.toString(), "--file", ratings.toString());
    Path human = temp.resolve("human-run");
    Files.createDirectories(human);
    for (String name : new String[] {"manifest.jsonl", "metrics.json"}) {
      Files.copy(run.resolve(name), human.resolve(name));
    }
    Files.walk(run.resolve("media"))
        .filter(Files::isRegularFile)
        .forEach(
            f -> {
              try {
                Files.createDirectories(human.resolve("media"));
                Files.copy(f, human.resolve("media").resolve(f.getFileName()));
              } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    genloom("humaneval", "results", "--db", study.toString(), "--run", human.toString());
    genloom("report", "--run", human.toString());
    HumanEvalSummary results =
        EvalJson.read(human.resolve("humaneval.json"), HumanEvalSummary.class);
    ReportModel report = EvalJson.read(human.resolve("report.json"), ReportModel.class);
    assertEquals(results, report.humanEval());
    HumanEvalSummary.Axis axis = results.axes().get(0);
    assertEquals(3, axis.pairs().size(), "three configurations: three pairs");
    assertEquals(3, axis.bradleyTerry().size());
    String html = Files.readString(human.resolve("report.html"));
    for (HumanEvalSummary.Pair pair : axis.pairs()) {
      // With one rater for the left side and one tie per item there is no majority: all ties.
      assertEquals(pair.items(), pair.majority().tie(), pair.toString());
      assertTrue(
          html.contains("data-field=\"majority.tie\" data-value=\"" + pair.majority().tie() + "\""),
          "report shows the tie count");
    }
  }

  /** Fills in a console-error hook and a check that runs once the page has loaded. */
  private static final String CHECK =
      "<script>window.__errors=[];window.addEventListener('error',e=>window.__errors.push("
          + "String(e.message||e.target&&e.target.src)),true);"
          + "const ce=console.error;console.error=(...a)=>{window.__errors.push(a.join(' '));"
          + "ce(...a)};window.addEventListener('load',()=>{const p=[];"
          + "const imgs=[...document.images];if(imgs.length===0)p.push('no images');"
          + "imgs.forEach((i,k)=>{if(!i.complete||i.naturalWidth===0)p.push('image '+k+' broken')});"
          + "if(document.querySelectorAll('svg.chart').length<2)p.push('charts missing');"
          + "if(document.querySelectorAll('#configs tbody tr').length<5)p.push('table rows missing');"
          + "const t=document.getElementById('configs');"
          + "if(t&&t.scrollWidth>t.parentElement.clientWidth)"
          + "p.push('configurations table wider than a 1400 px window: '+t.scrollWidth);"
          + "document.querySelectorAll('svg.chart').forEach((s,k)=>{const b=s.getBoundingClientRect();"
          + "if(b.width<100||b.height<100)p.push('chart '+k+' not laid out')});"
          + "const r=document.createElement('pre');r.id='render-check';"
          + "r.textContent=(p.concat(window.__errors).join('; ')||'ok');"
          + "document.body.appendChild(r)});</script>";

  @Test
  void reportRendersInHeadlessChromium() throws Exception {
    Path chromium = Path.of("/usr/bin/chromium");
    assertTrue(
        Files.isExecutable(chromium),
        "Debian's chromium is needed for this test: apt-get install chromium");
    String html = Files.readString(run.resolve("report.html"));
    Path page = temp.resolve("checked.html");
    Files.writeString(page, html.replaceFirst("<head>", "<head>" + CHECK));
    Path profile = Files.createTempDirectory(temp, "chromium");
    Process process =
        new ProcessBuilder(
                chromium.toString(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1400,900",
                "--user-data-dir=" + profile,
                "--virtual-time-budget=10000",
                "--dump-dom",
                page.toUri().toString())
            .redirectError(temp.resolve("chromium.log").toFile())
            .start();
    byte[] dom = process.getInputStream().readAllBytes();
    assertTrue(process.waitFor(120, TimeUnit.SECONDS), "chromium did not finish");
    String rendered = new String(dom, StandardCharsets.UTF_8);
    Matcher check = Pattern.compile("<pre id=\"render-check\">([^<]*)</pre>").matcher(rendered);
    assertTrue(
        check.find(),
        "no render check in the DOM; chromium log:\n"
            + Files.readString(temp.resolve("chromium.log")));
    assertEquals("ok", check.group(1));
    assertTrue(rendered.contains("<table id=\"configs\">"), "configuration table rendered");
  }
}
