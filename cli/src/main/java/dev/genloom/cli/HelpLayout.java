package dev.genloom.cli;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * The help text's descriptions, option and command lists, wrapped between words only. picocli wraps
 * with the JDK's line {@link java.text.BreakIterator}, which also breaks after '.' and ':' inside a
 * word, so that "manifest.jsonl" or "gs://" came out split over two lines.
 */
final class HelpLayout {
  static final int WIDTH = 80;

  /** Where option and parameter descriptions start. */
  static final int DESCRIPTION_COLUMN = 28;

  private HelpLayout() {}

  /** Installs the layout on {@code cli} and every subcommand. */
  static void apply(CommandLine cli) {
    apply(cli, Collections.newSetFromMap(new IdentityHashMap<>()));
  }

  private static void apply(CommandLine cli, Set<CommandLine> done) {
    if (!done.add(cli)) {
      return;
    }
    Map<String, CommandLine.IHelpSectionRenderer> sections = cli.getHelpSectionMap();
    sections.put(
        CommandLine.Model.UsageMessageSpec.SECTION_KEY_DESCRIPTION, HelpLayout::description);
    sections.put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_OPTION_LIST, HelpLayout::options);
    sections.put(
        CommandLine.Model.UsageMessageSpec.SECTION_KEY_PARAMETER_LIST, HelpLayout::parameters);
    sections.put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_COMMAND_LIST, HelpLayout::commands);
    sections.put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_FOOTER, HelpLayout::footer);
    cli.setHelpSectionMap(sections);
    cli.getSubcommands().values().forEach(sub -> apply(sub, done));
  }

  /** Lines of at most {@code width} characters, broken at spaces only. */
  static List<String> wrap(String text, int width) {
    List<String> lines = new ArrayList<>();
    StringBuilder line = new StringBuilder();
    for (String word : text.strip().split(" +")) {
      if (line.length() > 0 && line.length() + 1 + word.length() > width) {
        lines.add(line.toString());
        line.setLength(0);
      }
      if (line.length() > 0) {
        line.append(' ');
      }
      line.append(word);
    }
    lines.add(line.toString());
    return lines;
  }

  private static String paragraphs(String[] texts, int indent) {
    StringBuilder out = new StringBuilder();
    for (String text : texts) {
      if (text.isBlank()) {
        out.append('\n');
        continue;
      }
      for (String line : wrap(text, WIDTH - indent)) {
        out.append(" ".repeat(indent)).append(line).append('\n');
      }
    }
    return out.toString();
  }

  private static String description(CommandLine.Help help) {
    return paragraphs(help.commandSpec().usageMessage().description(), 0);
  }

  private static String footer(CommandLine.Help help) {
    return paragraphs(help.commandSpec().usageMessage().footer(), 0);
  }

  /** One entry of a two-column list: names, then the description from its column on. */
  private static void entry(StringBuilder out, String names, String description, int column) {
    List<String> lines = wrap(description, WIDTH - column);
    if (names.length() + 2 > column) {
      out.append(names).append('\n');
    } else {
      out.append(names).append(" ".repeat(column - names.length())).append(lines.remove(0));
      out.append('\n');
    }
    for (String line : lines) {
      out.append(" ".repeat(column)).append(line).append('\n');
    }
  }

  private static String text(ArgSpec arg) {
    return String.join(" ", arg.description());
  }

  private static String options(CommandLine.Help help) {
    List<OptionSpec> options = new ArrayList<>();
    for (OptionSpec option : help.commandSpec().options()) {
      if (!option.hidden()) {
        options.add(option);
      }
    }
    if (help.commandSpec().usageMessage().sortOptions()) {
      options.sort(
          Comparator.comparing(
              (OptionSpec o) -> o.shortestName().replaceFirst("^-+", "").toLowerCase()));
    }
    StringBuilder out = new StringBuilder();
    for (OptionSpec option : options) {
      String shortName = null;
      List<String> longNames = new ArrayList<>();
      for (String name : option.names()) {
        if (name.startsWith("--") || name.length() > 2) {
          longNames.add(name);
        } else {
          shortName = name;
        }
      }
      String label =
          option.typeInfo().isBoolean() || option.arity().max() == 0
              ? ""
              : "=" + option.paramLabel();
      String names =
          "  "
              + (shortName == null ? "    " : shortName + (longNames.isEmpty() ? "" : ", "))
              + String.join(", ", longNames)
              + label;
      entry(out, names, text(option), DESCRIPTION_COLUMN);
    }
    return out.toString();
  }

  private static String parameters(CommandLine.Help help) {
    StringBuilder out = new StringBuilder();
    for (PositionalParamSpec parameter : help.commandSpec().positionalParameters()) {
      if (!parameter.hidden()) {
        entry(out, "      " + parameter.paramLabel(), text(parameter), DESCRIPTION_COLUMN);
      }
    }
    return out.toString();
  }

  private static String commands(CommandLine.Help help) {
    Map<String, CommandLine.Help> subcommands = help.subcommands();
    if (subcommands.isEmpty()) {
      return "";
    }
    int column = 2;
    for (String name : subcommands.keySet()) {
      column = Math.max(column, name.length() + 5);
    }
    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, CommandLine.Help> sub : subcommands.entrySet()) {
      String[] description = sub.getValue().commandSpec().usageMessage().description();
      String first = description.length == 0 ? "" : description[0];
      entry(out, "  " + sub.getKey(), first, column);
    }
    return out.toString();
  }
}
