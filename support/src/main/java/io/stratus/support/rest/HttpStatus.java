package io.stratus.support.rest;

import io.stratus.support.errors.ApiException;

/** The HTTP status of a domain failure, as the OpenStack APIs answer them. */
public final class HttpStatus {
  private HttpStatus() {}

  /**
   * The status of {@code kind}: a state conflict (a second snapshot while one runs, a
   * locked server) is 409, a limit 413, a host or store that cannot be reached 503.
   */
  public static int of(ApiException.Kind kind) {
    return switch (kind) {
      case INVALID_ARGUMENT -> 400;
      case UNAUTHENTICATED -> 401;
      case PERMISSION_DENIED -> 403;
      case NOT_FOUND -> 404;
      case FAILED_PRECONDITION, ABORTED, ALREADY_EXISTS -> 409;
      case RESOURCE_EXHAUSTED -> 413;
      case UNAVAILABLE -> 503;
      case CANCELLED -> 409;
      case DATA_LOSS, FAILED_FOR_PEER -> 500;
    };
  }

  /** The status of any failure: its own for a {@link RestError}, 500 for a bug. */
  public static int of(Throwable e) {
    if (e instanceof RestError r) {
      return r.status();
    }
    if (e instanceof ApiException a) {
      return of(a.kind());
    }
    return 500;
  }

  /** The message a client may see: none of a bug's internals. */
  public static String message(Throwable e) {
    if (e instanceof RestError || e instanceof ApiException) {
      return e.getMessage();
    }
    return "The server has either erred or is incapable of performing the requested"
        + " operation.";
  }
}
