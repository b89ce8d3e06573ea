package io.stratus.support.rest;

/**
 * A failure answered with an HTTP status of its own, for what the protocol itself refuses
 * (an unknown path, a method a resource does not have, an unsupported media type).
 * Domain failures are {@link io.stratus.support.errors.ApiException}s, mapped by the API.
 */
public final class RestError extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int status;

  public RestError(int status, String message) {
    super(message);
    this.status = status;
  }

  public int status() {
    return status;
  }
}
