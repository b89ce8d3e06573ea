package io.stratus.agent.ops;

/** A task stopped because CancelOperation asked it to. */
public final class CancelledException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public CancelledException(String operationId) {
    super("operation " + operationId + " cancelled");
  }
}
