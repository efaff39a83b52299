package dev.genloom.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The shared {@code --db} option of the humaneval subcommands that work on an existing study. */
final class StudyOption {
  @Option(names = "--db", required = true, paramLabel = "DB", description = "Study file.")
  Path db;
}
