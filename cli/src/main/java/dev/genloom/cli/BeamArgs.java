package dev.genloom.cli;

import java.util.List;

/** Beam options passed through a genloom command untouched. */
final class BeamArgs {
  private BeamArgs() {}

  /** Refuses anything that is not a {@code --name=value} option, naming it. */
  static void check(List<String> options) {
    for (String option : options) {
      if (!option.startsWith("--")) {
        throw new UserException(
            "unexpected argument '" + option + "' (Beam options look like --name=value)");
      }
    }
  }
}
