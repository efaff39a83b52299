package dev.genloom.cli;

import java.beans.Introspector;
import java.lang.reflect.Method;
import java.util.List;
import java.util.Locale;

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

  /**
   * As {@link #check(List)}, and refuses the pipeline's own options ({@code --maxAttempts=3}),
   * which the command takes in kebab case ({@code --max-attempts 3}), naming that form. A
   * kebab-case option the command does not have is refused too: Beam's are camel case.
   */
  static void check(List<String> options, Class<?> pipelineOptions) {
    check(options);
    for (String option : options) {
      String name = option.substring(2).split("=", 2)[0];
      if (name.contains("-")) {
        throw new UserException("unknown option '--" + name + "' (see --help)");
      }
      for (Method getter : pipelineOptions.getDeclaredMethods()) {
        String property = property(getter);
        if (property != null && property.equals(name)) {
          throw new UserException(
              "option '--"
                  + name
                  + "' is written --"
                  + kebab(name)
                  + " here (see --help); Beam's own runner options pass through as"
                  + " --name=value");
        }
      }
    }
  }

  private static String property(Method getter) {
    String n = getter.getName();
    if (getter.getParameterCount() != 0) {
      return null;
    }
    if (n.startsWith("get") && n.length() > 3) {
      return Introspector.decapitalize(n.substring(3));
    }
    if (n.startsWith("is") && n.length() > 2) {
      return Introspector.decapitalize(n.substring(2));
    }
    return null;
  }

  static String kebab(String camel) {
    return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
  }
}
