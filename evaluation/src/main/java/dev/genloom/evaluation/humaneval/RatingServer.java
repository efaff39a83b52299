package dev.genloom.evaluation.humaneval;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The blind rating app. Each rater works through a personal link {@code /r/TOKEN}; the admin view
 * is {@code /admin/TOKEN}. Pages never carry configuration names or file paths: items and media are
 * reached by random keys, and only within the rater's own assignments. Forms carry an HMAC token
 * bound to the rater and item (cross-site request forgery), cross-origin posts are refused, and
 * every answer is committed before the next page is sent.
 */
public final class RatingServer implements AutoCloseable {
  /** Largest form body accepted. */
  static final int MAX_FORM_BYTES = 8 * 1024;

  private final HttpServer server;
  private final ExecutorService executor;
  private final RatingStore store;
  private final byte[] csrfSecret;

  private RatingServer(HttpServer server, ExecutorService executor, RatingStore store, byte[] key) {
    this.server = server;
    this.executor = executor;
    this.store = store;
    this.csrfSecret = key;
  }

  /** Starts serving the database on the address (port 0 picks a free port). */
  public static RatingServer start(HumanEvalDb db, InetSocketAddress address) throws IOException {
    RatingStore store = new RatingStore(db);
    String secret = store.setting("csrf_secret");
    if (secret == null) {
      throw new IllegalArgumentException(
          "db: " + db.file() + " has no study; build one with 'genloom humaneval tasks'");
    }
    HttpServer server = HttpServer.create(address, 0);
    ExecutorService executor = Executors.newFixedThreadPool(4);
    server.setExecutor(executor);
    RatingServer app =
        new RatingServer(server, executor, store, secret.getBytes(StandardCharsets.UTF_8));
    server.createContext("/", app::handle);
    server.start();
    return app;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try {
      route(exchange);
    } catch (RuntimeException e) {
      send(exchange, 500, "text/plain", "internal error\n".getBytes(StandardCharsets.UTF_8));
    } finally {
      exchange.close();
    }
  }

  private void route(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getRawPath();
    String method = ex.getRequestMethod();
    String[] parts = path.split("/", -1); // "", "r", token, ...
    if (parts.length >= 3 && parts[1].equals("admin")) {
      if (parts.length != 3 || !method.equals("GET")) {
        page(ex, 404, RatingPages.message("Not found", "There is nothing here."));
      } else if (!store.isAdmin(parts[2])) {
        page(ex, 401, RatingPages.message("Not authorised", "This admin link is not valid."));
      } else {
        page(ex, 200, RatingPages.admin(store.allProgress()));
      }
      return;
    }
    if (parts.length < 3 || !parts[1].equals("r")) {
      page(ex, 404, RatingPages.message("Not found", "Open the personal link you were given."));
      return;
    }
    Optional<RatingStore.Rater> rater = store.rater(parts[2]);
    if (rater.isEmpty()) {
      page(ex, 401, RatingPages.message("Not authorised", "This rating link is not valid."));
      return;
    }
    String base = "/r/" + parts[2];
    String rest = parts.length == 3 ? "" : path.substring(base.length());
    switch (method + " " + (rest.startsWith("/media/") ? "/media/" : rest)) {
      case "GET ", "GET /" -> showNext(ex, rater.get(), base);
      case "GET /media/" -> media(ex, rater.get(), rest.substring("/media/".length()));
      case "POST /rate" -> rate(ex, rater.get(), base);
      case "POST /undo" -> undo(ex, rater.get(), base);
      default -> page(ex, 404, RatingPages.message("Not found", "There is nothing here."));
    }
  }

  private void showNext(HttpExchange ex, RatingStore.Rater rater, String base) throws IOException {
    RatingStore.Progress progress = store.progress(rater);
    Optional<RatingStore.Task> task = store.next(rater);
    String undoToken = csrf(rater.id() + ":undo");
    if (task.isEmpty()) {
      page(ex, 200, RatingPages.done(base, progress, undoToken));
      return;
    }
    RatingStore.Task t = task.get();
    // media ids are scoped to this rater: another rater's link cannot use them, even for an item
    // both were given
    RatingStore.Task scoped =
        new RatingStore.Task(
            t.itemId(),
            t.publicId(),
            t.prompt(),
            mediaId(rater, t.leftMedia()),
            t.leftMime(),
            mediaId(rater, t.rightMedia()),
            t.rightMime());
    page(
        ex,
        200,
        RatingPages.task(
            base,
            scoped,
            store.axes(),
            progress,
            csrf(rater.id() + ":" + task.get().publicId()),
            undoToken));
  }

  /** The id under which {@code rater}'s pages show the media {@code key}. */
  private String mediaId(RatingStore.Rater rater, String key) {
    return csrf(rater.id() + ":media:" + key).substring(0, 32);
  }

  private void media(HttpExchange ex, RatingStore.Rater rater, String id) throws IOException {
    Optional<RatingStore.Media> media = Optional.empty();
    if (id.matches("[0-9a-f]{32}")) {
      for (String key : store.mediaKeys(rater)) {
        if (Tokens.same(mediaId(rater, key), id)) {
          media = store.media(rater, key);
          break;
        }
      }
    }
    if (media.isEmpty()) {
      page(ex, 404, RatingPages.message("Not found", "There is nothing here."));
      return;
    }
    ex.getResponseHeaders().set("Cache-Control", "private, max-age=3600");
    send(ex, 200, media.get().mime(), media.get().data());
  }

  private void rate(HttpExchange ex, RatingStore.Rater rater, String base) throws IOException {
    Map<String, String> form = form(ex);
    if (form == null) {
      return;
    }
    String publicId = form.getOrDefault("item", "");
    Optional<Long> item =
        publicId.matches("[0-9a-f]{32}") ? store.assignedItem(rater, publicId) : Optional.empty();
    String token = form.getOrDefault("csrf", "");
    boolean anotherRatersForm =
        publicId.matches("[0-9a-f]{32}")
            && store.otherRaters(rater, publicId).stream()
                .anyMatch(other -> Tokens.same(token, csrf(other + ":" + publicId)));
    if (anotherRatersForm) {
      page(
          ex,
          403,
          RatingPages.message(
              "Forbidden",
              "This answer comes from another rater's page; answer from your own link."));
      return;
    }
    if (item.isEmpty()) {
      page(ex, 403, RatingPages.message("Forbidden", "That item is not one of your tasks."));
      return;
    }
    if (!Tokens.same(token, csrf(rater.id() + ":" + publicId))) {
      page(ex, 403, RatingPages.message("Forbidden", "The form has expired; reload the page."));
      return;
    }
    Map<String, String> choices = new LinkedHashMap<>();
    for (RatingStore.Axis axis : store.axes()) {
      String choice = form.get("axis_" + axis.name());
      if (choice == null || !RatingStore.CHOICES.contains(choice)) {
        page(
            ex,
            400,
            RatingPages.message(
                "Incomplete answer",
                "Answer '"
                    + axis.question()
                    + "' with A, B, both good or both bad before submitting."));
        return;
      }
      choices.put(axis.name(), choice);
    }
    if (!store.rate(rater, item.get(), choices)) {
      page(ex, 409, RatingPages.message("Already answered", "You answered this item already."));
      return;
    }
    redirect(ex, base);
  }

  private void undo(HttpExchange ex, RatingStore.Rater rater, String base) throws IOException {
    Map<String, String> form = form(ex);
    if (form == null) {
      return;
    }
    if (!Tokens.same(form.getOrDefault("csrf", ""), csrf(rater.id() + ":undo"))) {
      page(ex, 403, RatingPages.message("Forbidden", "The form has expired; reload the page."));
      return;
    }
    store.undo(rater);
    redirect(ex, base);
  }

  /** Reads a same-origin URL-encoded form, or answers the error and returns null. */
  private Map<String, String> form(HttpExchange ex) throws IOException {
    String origin = ex.getRequestHeaders().getFirst("Origin");
    String host = ex.getRequestHeaders().getFirst("Host");
    if (origin != null
        && !origin.equals("null")
        && (host == null
            || !(origin.equals("http://" + host) || origin.equals("https://" + host)))) {
      page(ex, 403, RatingPages.message("Forbidden", "Cross-site form posts are refused."));
      return null;
    }
    String type = ex.getRequestHeaders().getFirst("Content-Type");
    if (type == null || !type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
      page(ex, 415, RatingPages.message("Unsupported", "Submit the form from the rating page."));
      return null;
    }
    byte[] body;
    try (InputStream in = ex.getRequestBody()) {
      body = in.readNBytes(MAX_FORM_BYTES + 1);
    }
    if (body.length > MAX_FORM_BYTES) {
      page(ex, 413, RatingPages.message("Too large", "The form is too large."));
      return null;
    }
    Map<String, String> form = new LinkedHashMap<>();
    for (String pair : new String(body, StandardCharsets.UTF_8).split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String key = eq < 0 ? pair : pair.substring(0, eq);
      String value = eq < 0 ? "" : pair.substring(eq + 1);
      try {
        if (form.putIfAbsent(
                URLDecoder.decode(key, StandardCharsets.UTF_8),
                URLDecoder.decode(value, StandardCharsets.UTF_8))
            != null) {
          page(ex, 400, RatingPages.message("Bad form", "A field was sent twice."));
          return null;
        }
      } catch (IllegalArgumentException e) {
        page(ex, 400, RatingPages.message("Bad form", "The form is not valid URL encoding."));
        return null;
      }
    }
    return form;
  }

  private String csrf(String message) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(csrfSecret, "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal(message.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void redirect(HttpExchange ex, String location) throws IOException {
    ex.getResponseHeaders().set("Location", location);
    ex.getResponseHeaders().set("Cache-Control", "no-store");
    ex.sendResponseHeaders(303, -1);
  }

  private static void page(HttpExchange ex, int status, RatingPages.Page page) throws IOException {
    ex.getResponseHeaders()
        .set(
            "Content-Security-Policy",
            "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'nonce-"
                + page.nonce()
                + "'; script-src 'nonce-"
                + page.nonce()
                + "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    ex.getResponseHeaders().set("Cache-Control", "no-store");
    send(ex, status, "text/html; charset=utf-8", page.html().getBytes(StandardCharsets.UTF_8));
  }

  private static void send(HttpExchange ex, int status, String type, byte[] body)
      throws IOException {
    ex.getResponseHeaders().set("Content-Type", type);
    ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
    ex.getResponseHeaders().set("Referrer-Policy", "no-referrer");
    ex.getResponseHeaders().set("X-Frame-Options", "DENY");
    ex.sendResponseHeaders(status, body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
  }
}
