package dev.genloom.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Worker defaults in real processes: loopback unless told otherwise, the OpenAI API too (with a
 * warning when exposed without TLS or a token), a metrics port in use named with the option that
 * sets it, and two workers on one host with {@code --metrics-port 0}.
 */
class WorkerDefaultsTest {
  @TempDir Path temp;
  private final List<Process> started = new ArrayList<>();

  private Process worker(String... args) throws IOException {
    Path models = temp.resolve("models");
    if (!Files.exists(models)) {
      Files.createDirectories(models);
      Files.createSymbolicLink(
          models.resolve("tiny-ldm"),
          Path.of("..", "models", "tiny-ldm").toAbsolutePath().normalize());
    }
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(
        List.of(
            "-Xmx256m",
            "-Dai.djl.offline=true",
            "-cp",
            System.getProperty("java.class.path"),
            Genloom.class.getName(),
            "worker",
            "--models",
            models.toString(),
            "--port",
            "0"));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    started.add(process);
    return process;
  }

  /** Reads the process's output until a line containing {@code marker}; returns all read. */
  private static String until(Process process, String marker) throws IOException {
    StringBuilder text = new StringBuilder();
    BufferedReader lines =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
      text.append(line).append('\n');
      if (line.contains(marker)) {
        return text.toString();
      }
    }
    return text.toString();
  }

  @org.junit.jupiter.api.AfterEach
  void stop() throws InterruptedException {
    for (Process p : started) {
      p.destroyForcibly();
      p.waitFor(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void listensOnLoopbackByDefaultAndWarnsWhenExposedWithoutTlsOrToken() throws Exception {
    String local = until(worker("--metrics-port", "0", "--openai-port", "0"), "ready:");
    assertTrue(local.contains("listening on 127.0.0.1 port "), local);
    assertTrue(local.contains("metrics on http://127.0.0.1:"), local);
    assertTrue(local.contains("OpenAI images API on http://127.0.0.1:"), local);
    assertFalse(local.contains("warning:"), local);
    String open = until(worker("--bind", "0.0.0.0", "--metrics-port", "0"), "ready:");
    assertTrue(
        open.contains("warning: listening on 0.0.0.0 beyond this machine without TLS or a token"),
        open);
  }

  @Test
  void aMetricsPortInUseIsNamedAndTwoWorkersShareAHostWithPortZero() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      int port = taken.getLocalPort();
      Process second = worker("--metrics-port", Integer.toString(port));
      String text = new String(second.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(second.waitFor(60, TimeUnit.SECONDS));
      assertEquals(2, second.exitValue(), text);
      assertTrue(text.contains("metrics-port: port " + port), text);
      assertTrue(text.contains("already in use"), text);
      assertTrue(text.contains("--metrics-port"), text);
    }
    String a = until(worker("--metrics-port", "0"), "ready:");
    String b = until(worker("--metrics-port", "0"), "ready:");
    assertTrue(a.contains("ready:"), a);
    assertTrue(b.contains("ready:"), b);
  }
}
