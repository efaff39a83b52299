package dev.genloom.cli;

import dev.genloom.evaluation.EvalJson;
import dev.genloom.evaluation.humaneval.HumanEvalDb;
import dev.genloom.evaluation.humaneval.HumanEvalResults;
import dev.genloom.evaluation.humaneval.HumanEvalSummary;
import dev.genloom.evaluation.humaneval.RatingServer;
import dev.genloom.evaluation.humaneval.RatingsExchange;
import dev.genloom.evaluation.humaneval.TaskBuilder;
import dev.genloom.evaluation.report.RunReport;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code genloom humaneval}: blind pairwise human evaluation. */
@Command(
    name = "humaneval",
    mixinStandardHelpOptions = true,
    subcommands = {
      HumanEvalCommand.Tasks.class,
      HumanEvalCommand.Serve.class,
      HumanEvalCommand.Results.class,
      HumanEvalCommand.Export.class,
      HumanEvalCommand.Import.class
    },
    description = {
      "Blind pairwise human evaluation of a pipeline run: build the tasks (tasks), collect"
          + " ratings in the browser (serve), and compute win rates, confidence intervals,"
          + " agreement and Bradley-Terry ratings (results). Ratings collected elsewhere can be"
          + " imported; 'results --run DIR' puts the results into that run's report."
    })
final class HumanEvalCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(
      name = "tasks",
      mixinStandardHelpOptions = true,
      sortOptions = false,
      description = {
        "Build a study from a run: the same prompt and seed under two configurations per item,"
            + " left/right placement randomised and recorded, items spread over the raters, a"
            + " fraction repeated for self-consistency. Prints each rater's personal link token"
            + " (and writes them to OUT.tokens.tsv, readable only by you)."
      })
  static final class Tasks implements Callable<Integer> {
    @Option(names = "--run", required = true, paramLabel = "DIR", description = "Pipeline run.")
    Path run;

    @Option(names = "--a", required = true, paramLabel = "CONFIG", description = "Configuration A.")
    String a;

    @Option(names = "--b", required = true, paramLabel = "CONFIG", description = "Configuration B.")
    String b;

    @Option(
        names = "--more",
        paramLabel = "CONFIG",
        split = ",",
        description = "Further configurations (every pair is compared; Bradley-Terry ratings).")
    List<String> more = new ArrayList<>();

    @Option(
        names = "--axes",
        paramLabel = "AXIS,...",
        split = ",",
        description = "Questions asked per item (default: ${DEFAULT-VALUE}).",
        defaultValue = "visual_appeal,text_faithfulness")
    List<String> axes;

    @Option(
        names = "--raters",
        paramLabel = "NAME,...",
        split = ",",
        description = "Rater names (default: ${DEFAULT-VALUE}).",
        defaultValue = "rater1,rater2,rater3")
    List<String> raters;

    @Option(
        names = "--raters-per-item",
        paramLabel = "N",
        description = "Raters who see each item (default: ${DEFAULT-VALUE}).",
        defaultValue = "3")
    int ratersPerItem;

    @Option(
        names = "--repeat-fraction",
        paramLabel = "F",
        description = "Share of items shown twice (default: ${DEFAULT-VALUE}).",
        defaultValue = "0.1")
    double repeatFraction;

    @Option(
        names = "--seed",
        paramLabel = "S",
        description = "Placement and assignment seed (default: ${DEFAULT-VALUE}).",
        defaultValue = "0")
    long seed;

    @Option(names = "--out", required = true, paramLabel = "DB", description = "New study file.")
    Path out;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
      List<String> configs = new ArrayList<>(List.of(a, b));
      configs.addAll(more);
      TaskBuilder.Built built;
      try (HumanEvalDb db = HumanEvalDb.create(out)) {
        built =
            TaskBuilder.build(
                db,
                new TaskBuilder.Spec(
                    run, configs, axes, raters, ratersPerItem, repeatFraction, seed));
      } catch (IllegalArgumentException e) {
        Files.deleteIfExists(out);
        throw new UserException(e.getMessage());
      }
      Path tokens = out.resolveSibling(out.getFileName() + ".tokens.tsv");
      StringBuilder tsv = new StringBuilder("# who\ttoken (link: http://HOST:PORT/r/TOKEN)\n");
      built
          .raterTokens()
          .forEach((name, token) -> tsv.append(name).append('\t').append(token).append('\n'));
      tsv.append("admin\t").append(built.adminToken()).append('\n');
      Files.deleteIfExists(tokens);
      Files.createFile(
          tokens,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(tokens, tsv);
      PrintWriter o = spec.commandLine().getOut();
      o.printf(
          Locale.ROOT,
          "wrote %s: %d items (+%d repeats), %d raters, axes %s%n",
          out,
          built.items(),
          built.repeats(),
          built.raterTokens().size(),
          String.join(",", axes));
      o.println("Personal links (after 'genloom humaneval serve --db " + out + "'):");
      for (Map.Entry<String, String> e : built.raterTokens().entrySet()) {
        o.println("  " + e.getKey() + ": /r/" + e.getValue());
      }
      o.println("  admin: /admin/" + built.adminToken());
      o.println("Tokens are also in " + tokens + "; only their hashes are stored in the study.");
      o.flush();
      return 0;
    }
  }

  @Command(
      name = "serve",
      mixinStandardHelpOptions = true,
      description = {
        "Serve the rating app: raters open http://HOST:PORT/r/TOKEN; progress per rater is at"
            + " /admin/ADMIN_TOKEN. Every answer is committed before the next page. Stop with"
            + " Ctrl-C."
      })
  static final class Serve implements Callable<Integer> {
    @Mixin StudyOption studyFile;

    @Option(
        names = "--port",
        paramLabel = "PORT",
        description = "Port (default: ${DEFAULT-VALUE}).",
        defaultValue = "8080")
    int port;

    @Option(
        names = "--bind",
        paramLabel = "ADDRESS",
        description =
            "Address to listen on (default: ${DEFAULT-VALUE}; use 0.0.0.0 behind a TLS proxy).",
        defaultValue = "127.0.0.1")
    String bind;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      try (HumanEvalDb study = HumanEvalDb.open(studyFile.db);
          RatingServer server = RatingServer.start(study, new InetSocketAddress(bind, port))) {
        PrintWriter o = spec.commandLine().getOut();
        o.printf(
            Locale.ROOT,
            "Serving %s on http://%s:%d/r/TOKEN (tokens: %s.tokens.tsv). Ctrl-C stops.%n",
            studyFile.db,
            bind,
            server.port(),
            studyFile.db.getFileName());
        o.flush();
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
        stop.await();
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      return 0;
    }
  }

  @Command(
      name = "results",
      mixinStandardHelpOptions = true,
      description = {
        "Per axis: win/tie/loss (rater votes and per-item majority), win and net win rates with"
            + " bootstrap 95%% intervals over items, Fleiss' kappa, self-consistency on repeated"
            + " items, and Bradley-Terry ratings (mean 1000) with more than two configurations."
      })
  static final class Results implements Callable<Integer> {
    @Mixin StudyOption studyFile;

    @Option(names = "--json", description = "Print the results as JSON.")
    boolean json;

    @Option(
        names = "--run",
        paramLabel = "DIR",
        description = "Also write DIR/humaneval.json, which 'genloom report --run DIR' shows.")
    Path run;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
      HumanEvalSummary results;
      try (HumanEvalDb study = HumanEvalDb.open(studyFile.db)) {
        results = HumanEvalResults.compute(study);
      } catch (IllegalArgumentException e) {
        throw new UserException(e.getMessage());
      }
      PrintWriter o = spec.commandLine().getOut();
      if (run != null) {
        if (!Files.isDirectory(run)) {
          throw new UserException("run: " + run + " is not a folder");
        }
        EvalJson.write(run.resolve(RunReport.HUMAN_EVAL_FILE), results);
      }
      if (json) {
        o.println(EvalJson.toJson(results));
      } else {
        print(o, results);
      }
      o.flush();
      return 0;
    }

    private static void print(PrintWriter o, HumanEvalSummary results) {
      for (HumanEvalSummary.Axis axis : results.axes()) {
        o.println("axis " + axis.axis());
        for (HumanEvalSummary.Pair pair : axis.pairs()) {
          int items = pair.items();
          o.printf(
              Locale.ROOT,
              "  %s vs %s: %d items, %d ratings; majority win %d tie %d loss %d (ratings: both"
                  + " good %d, both bad %d); win rate %.1f%% [%.1f, %.1f] (n = %d);"
                  + " net win rate %+.1f [%+.1f, %+.1f] (n = %d)%n",
              pair.a(),
              pair.b(),
              items,
              pair.ratings(),
              pair.majority().win(),
              pair.majority().tie(),
              pair.majority().loss(),
              pair.votes().tieBothGood(),
              pair.votes().tieBothBad(),
              100 * pair.winRate(),
              100 * pair.winRateCi().low(),
              100 * pair.winRateCi().high(),
              items,
              pair.netWinRate(),
              pair.netWinRateCi().low(),
              pair.netWinRateCi().high(),
              items);
          if (pair.warning() != null) {
            o.println("    warning: " + pair.warning());
          }
        }
        o.printf(
            Locale.ROOT,
            "  Fleiss' kappa %s over %d items; self-consistency %s over %d repeats%n",
            axis.fleissKappa() == null
                ? "-"
                : String.format(Locale.ROOT, "%.3f", axis.fleissKappa()),
            axis.kappaItems(),
            axis.selfConsistency() == null
                ? "-"
                : String.format(Locale.ROOT, "%.1f%%", 100 * axis.selfConsistency()),
            axis.repeatPairs());
        if (axis.bradleyTerry() != null) {
          for (HumanEvalSummary.Rating entry : axis.bradleyTerry()) {
            if (entry.rating() == null) {
              o.printf(
                  Locale.ROOT,
                  "  Bradley-Terry %s: - (%s)%n",
                  entry.config(),
                  entry.note() == null ? "never rated" : entry.note());
              continue;
            }
            o.printf(
                Locale.ROOT,
                "  Bradley-Terry %s: %.1f [%.1f, %.1f] (n = %d comparisons)%s%n",
                entry.config(),
                entry.rating(),
                entry.ci().low(),
                entry.ci().high(),
                entry.battles(),
                entry.note() == null ? "" : "; warning: " + entry.note());
          }
        }
      }
    }
  }

  @Command(
      name = "export",
      mixinStandardHelpOptions = true,
      description = "Write every rating to a .csv or .jsonl file.")
  static final class Export implements Callable<Integer> {
    @Mixin StudyOption studyFile;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = ".csv or .jsonl.")
    Path out;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      return exchange(
          spec,
          studyFile.db,
          study -> "wrote " + RatingsExchange.export(study, out) + " ratings to " + out);
    }
  }

  @Command(
      name = "import",
      mixinStandardHelpOptions = true,
      description = {
        "Add ratings collected elsewhere: a .csv (header with rater,item,axis,choice) or .jsonl"
            + " file; item is the public item id of an export, choice is left, right or tie. All"
            + " or nothing: a bad row stops the import and names its line."
      })
  static final class Import implements Callable<Integer> {
    @Mixin StudyOption studyFile;

    @Option(names = "--file", required = true, paramLabel = "FILE", description = ".csv or .jsonl.")
    Path file;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
      return exchange(
          spec,
          studyFile.db,
          study -> "imported " + RatingsExchange.importFrom(study, file) + " ratings from " + file);
    }
  }

  /**
   * Opens the study, runs one ratings exchange against it and prints its summary line; bad input
   * (an {@link IllegalArgumentException} naming the problem) becomes a user error.
   */
  private static int exchange(
      CommandLine.Model.CommandSpec spec, Path db, Function<HumanEvalDb, String> action) {
    try (HumanEvalDb study = HumanEvalDb.open(db)) {
      spec.commandLine().getOut().println(action.apply(study));
    } catch (IllegalArgumentException e) {
      throw new UserException(e.getMessage());
    }
    spec.commandLine().getOut().flush();
    return 0;
  }
}
