package io.stratus.cli;

import picocli.CommandLine.Model.CommandSpec;

/**
 * What every verb works with: the terminal and the API clients of this invocation.
 *
 * @param terminal where results, errors and progress go
 * @param clients the conductor and image-gateway stubs
 */
public record Session(Terminal terminal, Clients clients) {
  /** The session of the invocation that {@code spec} belongs to. */
  public static Session of(CommandSpec spec) {
    return ((StratusCli) spec.root().userObject()).session();
  }
}
