package io.stratus.cli;

import io.grpc.Status;
import io.stratus.proto.conductor.v1.Fault;

/** One-line descriptions of gRPC statuses and server faults: {@code CODE: message}. */
public final class ApiErrors {
  private ApiErrors() {}

  /** {@code NOT_FOUND: server 123 not found}; the transport cause is added when useful. */
  public static String describe(Status status) {
    StringBuilder line = new StringBuilder(status.getCode().name());
    if (status.getDescription() != null && !status.getDescription().isBlank()) {
      line.append(": ").append(status.getDescription());
    }
    Throwable cause = status.getCause();
    if (cause != null && cause.getMessage() != null) {
      line.append(" (").append(cause.getMessage()).append(')');
    }
    return StratusCli.oneLine(line.toString());
  }

  /** A server fault as {@code CODE: message}. */
  public static String describe(Fault fault) {
    return StratusCli.oneLine(
        Status.fromCodeValue(fault.getCode()).getCode().name() + ": " + fault.getMessage());
  }
}
