package dev.genloom.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code genloom}: the single command for demos, workers, pipelines, evaluation and reports. */
@Command(
    name = "genloom",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Generative-media orchestrator: batch generation on a gRPC worker fleet through Apache Beam,"
          + " DJL PyTorch generators, and evaluation reports.",
      ""
    },
    subcommands = {
      DemoCommand.class,
      ModelsCommand.class,
      GenerateCommand.class,
      WorkerCommand.class,
      RunCommand.class,
      EvalCommand.class,
      HumanEvalCommand.class,
      ReportCommand.class,
      BenchCommand.class,
      CommandLine.HelpCommand.class
    },
    footer = {
      "",
      "Run 'genloom COMMAND --help' for a command's options.",
      "Models are read from the shipped models folder unless --models or GENLOOM_MODELS says"
          + " otherwise. Paths are relative to the folder you run genloom from."
    })
public final class Genloom implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Builds the command line with Genloom's error handling: messages, not stack traces. */
  public static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new Genloom());
    HelpLayout.apply(cli);
    cli.setExecutionExceptionHandler(
        (e, commandLine, parseResult) -> {
          PrintWriter err = commandLine.getErr();
          err.println("genloom " + commandLine.getCommandName() + ": " + describe(e));
          err.flush();
          if (e instanceof UserException user) {
            return user.exitCode();
          }
          // A benchmark set up wrongly (a setting, a missing package) is the user's error too.
          return e instanceof dev.genloom.bench.BenchmarkException ? 2 : 1;
        });
    return cli;
  }

  private static String describe(Exception e) {
    String message = e.getMessage();
    return message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
  }

  public static void main(String[] args) {
    quietEmbeddedWorkerLogs(args);
    System.exit(commandLine().execute(args));
  }

  /**
   * With an in-process worker ({@code run}, {@code demo}), per-request log lines would bury the
   * progress bar; they stay on for {@code genloom worker}. An explicit setting wins.
   */
  static void quietEmbeddedWorkerLogs(String[] args) {
    String property = "org.slf4j.simpleLogger.log.dev.genloom.workers";
    if (args.length > 0
        && (args[0].equals("run") || args[0].equals("demo") || args[0].equals("bench"))
        && System.getProperty(property) == null) {
      System.setProperty(property, "warn");
    }
  }
}
