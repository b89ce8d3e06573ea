package io.stratus.cli;

/**
 * A failure the CLI reports as one line on stderr ({@code error: MESSAGE}) with its own
 * exit code: {@link #USAGE} for a wrong command line or missing setting, {@link #FAILED}
 * for an operation that did not succeed.
 */
public final class CliException extends RuntimeException {
  /** The operation failed (an API error, a fault, a bad download). */
  public static final int FAILED = 1;
  /** The command line or the connection settings are wrong. */
  public static final int USAGE = 2;

  private final int exitCode;

  private CliException(String message, int exitCode) {
    super(message, null, false, false);
    this.exitCode = exitCode;
  }

  /** A wrong command line or setting: exit code 2. */
  public static CliException usage(String message) {
    return new CliException(message, USAGE);
  }

  /** A failed operation: exit code 1. */
  public static CliException failed(String message) {
    return new CliException(message, FAILED);
  }

  public int exitCode() {
    return exitCode;
  }
}
