package dev.genloom.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * Commands that are named in the interface but whose implementation has not landed. Each says so
 * plainly and exits with status 3; none pretends to work.
 */
final class NotYetAvailable {
  static final int EXIT_NOT_AVAILABLE = 3;

  private NotYetAvailable() {}

  /** Shared behaviour: accept any arguments, refuse to run. */
  abstract static class Base implements Callable<Integer> {
    @Unmatched java.util.List<String> ignored;

    abstract String what();

    @Override
    public Integer call() {
      throw new UserException(
          what() + " is not available yet in this build of Genloom.", EXIT_NOT_AVAILABLE);
    }
  }

  @Command(
      name = "humaneval",
      mixinStandardHelpOptions = true,
      description = {
        "Build, serve and analyse blind pairwise human ratings. (Not available yet.)",
        "Planned: genloom humaneval tasks|serve|results ..."
      })
  static final class HumanEval extends Base {
    @Override
    String what() {
      return "'genloom humaneval' (human evaluation)";
    }
  }
}
