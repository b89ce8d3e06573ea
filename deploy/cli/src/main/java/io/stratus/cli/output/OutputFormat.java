package io.stratus.cli.output;

import picocli.CommandLine.Option;

/** The {@code -f table|json} option every verb takes (a picocli mixin). */
public final class OutputFormat {
  /** How results are printed. */
  public enum Kind {
    table,
    json
  }

  @Option(names = {"-f", "--format"}, paramLabel = "FORMAT", defaultValue = "table",
      description = "Output format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
  private Kind kind = Kind.table;

  public boolean json() {
    return kind == Kind.json;
  }
}
