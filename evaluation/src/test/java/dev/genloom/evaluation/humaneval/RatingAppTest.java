package dev.genloom.evaluation.humaneval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.genloom.generators.MediaFiles;
import dev.genloom.generators.RgbImage;
import dev.genloom.proto.ProtoJson;
import dev.genloom.proto.v1.RunRecord;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.interactions.Actions;

/**
 * The rating app end to end: a study built from a run, served over loopback, rated by two raters in
 * headless Chromium (clicks and keyboard shortcuts, undo), then checked in the database, for
 * blindness, for isolation between raters, against forged submissions, and against a hand count.
 */
class RatingAppTest {
  private static final String SECRET_A = "secret-config-alpha";
  private static final String SECRET_B = "secret-config-beta";
  private static final List<String> PROMPTS =
      List.of(
          "a red circle on a blue background",
          "a green square on a white background",
          "a black triangle on a orange background",
          "a yellow circle on a purple background");

  @TempDir Path temp;
  private HumanEvalDb db;
  private RatingServer server;
  private TaskBuilder.Built built;
  private final List<String> mediaNames = new ArrayList<>();
  private final HttpClient http = HttpClient.newHttpClient();

  private static RgbImage solid(int r, int g, int b) {
    byte[] rgb = new byte[32 * 32 * 3];
    for (int i = 0; i < rgb.length; i += 3) {
      rgb[i] = (byte) r;
      rgb[i + 1] = (byte) g;
      rgb[i + 2] = (byte) b;
    }
    return new RgbImage(32, 32, rgb);
  }

  /** A run folder as the pipeline writes it: two configurations, four prompts, one seed. */
  private Path run() throws Exception {
    Path run = temp.resolve("run");
    StringBuilder manifest = new StringBuilder();
    int n = 0;
    for (String config : List.of(SECRET_A, SECRET_B)) {
      for (int p = 0; p < PROMPTS.size(); p++) {
        String id = String.format("%032x", ++n);
        String media = "media/" + id + ".png";
        mediaNames.add(id);
        MediaFiles.writePng(
            solid(40 * p, config.equals(SECRET_A) ? 200 : 20, 90), run.resolve(media));
        manifest
            .append(
                ProtoJson.printRecord(
                    RunRecord.newBuilder()
                        .setRequestId(id)
                        .setPrompt(PROMPTS.get(p))
                        .setSeed(0)
                        .setModel("m")
                        .setConfig(config)
                        .setStatus(RunRecord.Status.STATUS_OK)
                        .setMedia(media)
                        .build()))
            .append('\n');
      }
    }
    Files.writeString(run.resolve("manifest.jsonl"), manifest);
    return run;
  }

  @BeforeEach
  void start() throws Exception {
    db = HumanEvalDb.create(temp.resolve("tasks.db"));
    built =
        TaskBuilder.build(
            db,
            new TaskBuilder.Spec(
                run(),
                List.of(SECRET_A, SECRET_B),
                List.of("visual_appeal", "text_faithfulness"),
                List.of("alice", "bob"),
                2,
                0.25,
                7));
    server = RatingServer.start(db, new InetSocketAddress("127.0.0.1", 0));
  }

  @AfterEach
  void stop() {
    server.close();
    db.close();
  }

  private String url(String rater) {
    return "http://127.0.0.1:" + server.port() + "/r/" + built.raterTokens().get(rater);
  }

  private static WebDriver browser() {
    ChromeOptions options = new ChromeOptions();
    options.setBinary("/usr/bin/chromium");
    options.addArguments(
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=390,844");
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(new java.io.File("/usr/bin/chromedriver"))
            .build();
    return new ChromeDriver(service, options);
  }

  /** Which item a page shows, and the media keys it shows. */
  private static String itemOf(String source) {
    Matcher m = Pattern.compile("name=\"item\" value=\"([0-9a-f]{32})\"").matcher(source);
    return m.find() ? m.group(1) : null;
  }

  private void assertBlind(String source) {
    assertFalse(source.contains(SECRET_A), "configuration name in the page");
    assertFalse(source.contains(SECRET_B), "configuration name in the page");
    assertFalse(source.contains("config"), "the word config in the page");
    for (String name : mediaNames) {
      assertFalse(source.contains(name), "media file name in the page");
    }
  }

  /** What each rater answered per public item id, as {visual, text} choices. */
  private final Map<String, Map<String, String[]>> answered = new HashMap<>();

  @Test
  void twoRatersRateInTheBrowserAndTheResultsMatchAHandCount() throws Exception {
    WebDriver driver = browser();
    try {
      // alice: the first item by clicking, the second by keys, then undo and answer it again.
      driver.get(url("alice"));
      int total = 0;
      String first = itemOf(driver.getPageSource());
      assertBlind(driver.getPageSource());
      assertTrue(driver.getPageSource().contains("Item 1 of"), "progress shown");
      driver.findElement(By.cssSelector("input[name=axis_visual_appeal][value=left]")).click();
      driver.findElement(By.cssSelector("input[name=axis_text_faithfulness][value=tie]")).click();
      driver.findElement(By.id("send")).click();
      record("alice", first, "left", "tie");
      // the click submits a form: wait for the next page instead of reading the one still shown
      waitFor(
          driver,
          () -> {
            String shown = itemOf(driver.getPageSource());
            return shown != null && !shown.equals(first);
          });
      String second = itemOf(driver.getPageSource());
      assertTrue(second != null && !second.equals(first), "next item after submitting");
      new Actions(driver).sendKeys("b").sendKeys("b").sendKeys(Keys.ENTER).perform();
      waitFor(driver, () -> !second.equals(itemOf(driver.getPageSource())));
      new Actions(driver).sendKeys("u").perform(); // undo: the second item comes back
      waitFor(driver, () -> second.equals(itemOf(driver.getPageSource())));
      new Actions(driver).sendKeys("a").sendKeys("t").sendKeys(Keys.ENTER).perform();
      record("alice", second, "left", "tie");
      waitFor(driver, () -> !second.equals(itemOf(driver.getPageSource())));
      total = 2;
      while (itemOf(driver.getPageSource()) != null) {
        String item = itemOf(driver.getPageSource());
        assertBlind(driver.getPageSource());
        new Actions(driver).sendKeys("a").sendKeys("a").sendKeys(Keys.ENTER).perform();
        record("alice", item, "left", "left");
        waitFor(driver, () -> !item.equals(itemOf(driver.getPageSource())));
        total++;
      }
      assertTrue(driver.getPageSource().contains("All done"));
      // bob: everything by keys, always B on appeal and A on faithfulness.
      driver.get(url("bob"));
      while (itemOf(driver.getPageSource()) != null) {
        String item = itemOf(driver.getPageSource());
        assertBlind(driver.getPageSource());
        new Actions(driver).sendKeys("b").sendKeys("a").sendKeys(Keys.ENTER).perform();
        record("bob", item, "right", "left");
        waitFor(driver, () -> !item.equals(itemOf(driver.getPageSource())));
      }
      assertTrue(total >= 4, "alice answered " + total);
    } finally {
      driver.quit();
    }

    // The database holds exactly what the raters did.
    Map<String, Map<String, String[]>> stored = storedRatings();
    assertEquals(answered, toComparable(stored));

    // The results match a hand count from the recorded placements.
    HumanEvalSummary results = HumanEvalResults.compute(db);
    Map<String, String[]> leftRight = placements();
    for (int axis = 0; axis < 2; axis++) {
      int[] hand = handCount(axis, leftRight);
      HumanEvalSummary.Pair pair = results.axes().get(axis).pairs().get(0);
      assertEquals(SECRET_A, pair.a());
      assertEquals(hand[0], pair.majority().win(), "win axis " + axis);
      assertEquals(hand[1], pair.majority().tie(), "tie axis " + axis + " " + pair);
      assertEquals(hand[2], pair.majority().loss(), "loss axis " + axis);
      assertEquals(
          100.0 * (hand[0] - hand[2]) / (hand[0] + hand[1] + hand[2]), pair.netWinRate(), 1e-9);
    }
    assertEquals(2, results.raters().size());
  }

  private static void waitFor(WebDriver driver, java.util.function.BooleanSupplier condition) {
    new org.openqa.selenium.support.ui.WebDriverWait(driver, java.time.Duration.ofSeconds(20))
        .until(d -> condition.getAsBoolean());
  }

  private void record(String rater, String item, String visual, String text) {
    answered.computeIfAbsent(rater, k -> new HashMap<>()).put(item, new String[] {visual, text});
  }

  private static Map<String, Map<String, List<String>>> toComparable(
      Map<String, Map<String, String[]>> in) {
    Map<String, Map<String, List<String>>> out = new HashMap<>();
    in.forEach(
        (rater, items) -> {
          Map<String, List<String>> m = new HashMap<>();
          items.forEach((item, c) -> m.put(item, List.of(c)));
          out.put(rater, m);
        });
    return out;
  }

  private void assertEquals(
      Map<String, Map<String, String[]>> expected, Map<String, Map<String, List<String>>> actual) {
    org.junit.jupiter.api.Assertions.assertEquals(toComparable(expected), actual);
  }

  private static void assertEquals(Object expected, Object actual) {
    org.junit.jupiter.api.Assertions.assertEquals(expected, actual);
  }

  private static void assertEquals(Object expected, Object actual, String message) {
    org.junit.jupiter.api.Assertions.assertEquals(expected, actual, message);
  }

  private static void assertEquals(double expected, double actual, double delta) {
    org.junit.jupiter.api.Assertions.assertEquals(expected, actual, delta);
  }

  private Map<String, Map<String, String[]>> storedRatings() {
    return db.inTransaction(
        c -> {
          Map<String, Map<String, String[]>> out = new HashMap<>();
          try (ResultSet r =
              c.createStatement()
                  .executeQuery(
                      "SELECT ra.name, i.public_id, x.axis, x.choice FROM ratings x JOIN raters ra"
                          + " ON ra.id = x.rater_id JOIN items i ON i.id = x.item_id")) {
            while (r.next()) {
              String[] choices =
                  out.computeIfAbsent(r.getString(1), k -> new HashMap<>())
                      .computeIfAbsent(r.getString(2), k -> new String[2]);
              choices[r.getString(3).equals("visual_appeal") ? 0 : 1] = r.getString(4);
            }
          }
          return out;
        });
  }

  /** public id -> {left config, right config, repeat (non-null when a repeat)}. */
  private Map<String, String[]> placements() {
    return db.inTransaction(
        c -> {
          Map<String, String[]> out = new HashMap<>();
          try (ResultSet r =
              c.createStatement()
                  .executeQuery(
                      "SELECT i.public_id, l.name, rc.name, i.repeat_of FROM items i JOIN configs l"
                          + " ON l.id = i.left_config JOIN configs rc ON rc.id = i.right_config")) {
            while (r.next()) {
              String id = r.getString(1);
              String left = r.getString(2);
              String right = r.getString(3);
              r.getLong(4);
              out.put(id, new String[] {left, right, r.wasNull() ? null : "repeat"});
            }
          }
          return out;
        });
  }

  /** {win, tie, loss} for SECRET_A by per-item majority, counted by hand. */
  private int[] handCount(int axis, Map<String, String[]> placements) {
    Map<String, List<String>> perItem = new HashMap<>();
    answered.forEach(
        (rater, items) ->
            items.forEach(
                (item, choices) -> {
                  String[] place = placements.get(item);
                  if (place[2] != null) {
                    return; // repeats measure self-consistency, not preference
                  }
                  String choice = choices[axis];
                  String preferred =
                      choice.equals("left") ? place[0] : choice.equals("right") ? place[1] : "tie";
                  perItem.computeIfAbsent(item, k -> new ArrayList<>()).add(preferred);
                }));
    int[] counts = new int[3];
    for (List<String> votes : perItem.values()) {
      long a = votes.stream().filter(SECRET_A::equals).count();
      long b = votes.stream().filter(SECRET_B::equals).count();
      long t = votes.size() - a - b;
      if (a > b && a > t) {
        counts[0]++;
      } else if (b > a && b > t) {
        counts[2]++;
      } else {
        counts[1]++;
      }
    }
    return counts;
  }

  private HttpResponse<String> post(String rater, String path, String body, String origin)
      throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(url(rater) + path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (origin != null) {
      request.header("Origin", origin);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private String page(String rater) throws Exception {
    return http.send(
            HttpRequest.newBuilder(URI.create(url(rater))).build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  private int ratingCount() {
    return db.inTransaction(
        c -> {
          try (ResultSet r = c.createStatement().executeQuery("SELECT count(*) FROM ratings")) {
            r.next();
            return r.getInt(1);
          }
        });
  }

  @Test
  void ratersAreIsolatedAndForgedSubmissionsAreRefused() throws Exception {
    String alicePage = page("alice");
    String aliceItem = itemOf(alicePage);
    Matcher csrf = Pattern.compile("name=\"csrf\" value=\"([0-9a-f]+)\"").matcher(alicePage);
    assertTrue(csrf.find());
    Matcher media = Pattern.compile("/media/([0-9a-f]{32})").matcher(alicePage);
    assertTrue(media.find());
    String answer = "&axis_visual_appeal=left&axis_text_faithfulness=tie";

    // No token, a wrong token: 401.
    assertEquals(
        401,
        http.send(
                HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/r/not-a-token"))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .statusCode());
    // Media ids are scoped to the rater: alice's page's media load with alice's link, and with
    // bob's link they are 404 even though this study gives both raters every item.
    assertEquals(
        200,
        http.send(
                HttpRequest.newBuilder(URI.create(url("alice") + "/media/" + media.group(1)))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .statusCode());
    assertEquals(
        404,
        http.send(
                HttpRequest.newBuilder(URI.create(url("bob") + "/media/" + media.group(1))).build(),
                HttpResponse.BodyHandlers.ofString())
            .statusCode());
    // alice's form posted through bob's link is refused, and says why.
    HttpResponse<String> foreign =
        post("bob", "/rate", "item=" + aliceItem + "&csrf=" + csrf.group(1) + answer, null);
    assertEquals(403, foreign.statusCode());
    assertTrue(foreign.body().contains("another rater"), foreign.body());
    // an item that is not bob's at all
    List<String> bobItems = assignedPublicIds("bob");
    String notAssigned = "0".repeat(32);
    assertFalse(bobItems.contains(notAssigned));
    HttpResponse<String> unassigned =
        post("bob", "/rate", "item=" + notAssigned + "&csrf=" + csrf.group(1) + answer, null);
    assertEquals(403, unassigned.statusCode());
    assertTrue(unassigned.body().contains("not one of your tasks"), unassigned.body());
    // alice's csrf token does not work for bob on his own item.
    String bobItem = itemOf(page("bob"));
    assertEquals(
        403,
        post("bob", "/rate", "item=" + bobItem + "&csrf=" + csrf.group(1) + answer, null)
            .statusCode());
    // A forged csrf token, a cross-site origin, a missing axis, a bad choice, a wrong type.
    assertEquals(
        403, post("alice", "/rate", "item=" + aliceItem + "&csrf=00" + answer, null).statusCode());
    String valid = "item=" + aliceItem + "&csrf=" + csrf.group(1);
    assertEquals(403, post("alice", "/rate", valid + answer, "http://evil.example").statusCode());
    assertEquals(
        400, post("alice", "/rate", valid + "&axis_visual_appeal=left", null).statusCode());
    assertEquals(
        400,
        post("alice", "/rate", valid + "&axis_visual_appeal=left&axis_text_faithfulness=both", null)
            .statusCode());
    assertEquals(
        400,
        post("alice", "/rate", valid + answer + "&axis_visual_appeal=right", null).statusCode());
    assertEquals(0, ratingCount(), "nothing stored from refused submissions");
    // The genuine submission is stored once (a "both bad" tie is an answer); a replay is refused.
    answer = "&axis_visual_appeal=both_bad&axis_text_faithfulness=tie";
    assertEquals(303, post("alice", "/rate", valid + answer, null).statusCode());
    assertEquals(2, ratingCount());
    assertEquals(409, post("alice", "/rate", valid + answer, null).statusCode());
    assertEquals(2, ratingCount());
    // The admin view needs the admin token; a rater token is not one.
    String admin = "http://127.0.0.1:" + server.port() + "/admin/";
    assertEquals(
        200,
        http.send(
                HttpRequest.newBuilder(URI.create(admin + built.adminToken())).build(),
                HttpResponse.BodyHandlers.ofString())
            .statusCode());
    assertEquals(
        401,
        http.send(
                HttpRequest.newBuilder(URI.create(admin + built.raterTokens().get("alice")))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .statusCode());
  }

  private List<String> assignedPublicIds(String rater) {
    return db.inTransaction(
        c -> {
          List<String> ids = new ArrayList<>();
          try (var p =
              c.prepareStatement(
                  "SELECT i.public_id FROM assignments a JOIN items i ON i.id = a.item_id JOIN"
                      + " raters r ON r.id = a.rater_id WHERE r.name = ?")) {
            p.setString(1, rater);
            try (ResultSet r = p.executeQuery()) {
              while (r.next()) {
                ids.add(r.getString(1));
              }
            }
          }
          return ids;
        });
  }
}
