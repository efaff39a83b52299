package dev.genloom.cli;

import picocli.CommandLine;

/** Reports the distribution version from the jar manifest. */
final class VersionProvider implements CommandLine.IVersionProvider {
  @Override
  public String[] getVersion() {
    String version = Genloom.class.getPackage().getImplementationVersion();
    return new String[] {
      "genloom " + (version == null ? "(development build)" : version),
      "contracts genloom/v1, Java " + Runtime.version()
    };
  }
}
