package io.stratus.support.errors;

/**
 * A failure the caller is told about, with its kind (mapped to a gRPC status code by the
 * API layer) and a message that names the field or state at fault. Domain code throws
 * only this for expected failures; anything else is a bug and reported as INTERNAL.
 */
public final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What went wrong, from the caller's point of view. */
  public enum Kind {
    INVALID_ARGUMENT,
    NOT_FOUND,
    FAILED_PRECONDITION,
    ABORTED,
    UNAVAILABLE,
    PERMISSION_DENIED,
    UNAUTHENTICATED,
    RESOURCE_EXHAUSTED,
    ALREADY_EXISTS,
    DATA_LOSS,
    /** The work was cancelled by its caller (or superseded). */
    CANCELLED,
    /**
     * Work for a trusted peer (the conductor asking an agent) failed for a reason the peer
     * records as the fault: unlike an unexpected exception, its message is sent.
     */
    FAILED_FOR_PEER
  }

  private final Kind kind;

  private ApiException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  /** A request field is malformed; {@code field} is the request's field name. */
  public static ApiException invalidArgument(String field, String problem) {
    return new ApiException(Kind.INVALID_ARGUMENT, field + ": " + problem, null);
  }

  public static ApiException notFound(String message) {
    return new ApiException(Kind.NOT_FOUND, message, null);
  }

  public static ApiException failedPrecondition(String message) {
    return new ApiException(Kind.FAILED_PRECONDITION, message, null);
  }

  /** Another request won the race (a lost compare-and-swap). */
  public static ApiException aborted(String message) {
    return new ApiException(Kind.ABORTED, message, null);
  }

  public static ApiException unavailable(String message, Throwable cause) {
    return new ApiException(Kind.UNAVAILABLE, message, cause);
  }

  public static ApiException permissionDenied(String message) {
    return new ApiException(Kind.PERMISSION_DENIED, message, null);
  }

  public static ApiException unauthenticated(String message) {
    return new ApiException(Kind.UNAUTHENTICATED, message, null);
  }

  public static ApiException resourceExhausted(String message) {
    return new ApiException(Kind.RESOURCE_EXHAUSTED, message, null);
  }

  /** Content failed verification (digest mismatch). */
  public static ApiException dataLoss(String message) {
    return new ApiException(Kind.DATA_LOSS, message, null);
  }

  public static ApiException cancelled(String message) {
    return new ApiException(Kind.CANCELLED, message, null);
  }

  /** See {@link Kind#FAILED_FOR_PEER}; {@code cause} is logged, not sent. */
  public static ApiException failedForPeer(String message, Throwable cause) {
    return new ApiException(Kind.FAILED_FOR_PEER, message, cause);
  }

  public static ApiException alreadyExists(String message) {
    return new ApiException(Kind.ALREADY_EXISTS, message, null);
  }
}
