package io.stratus.support.grpc;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.stratus.support.errors.ApiException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place that turns domain failures into gRPC statuses, and picks the log level by
 * how expected the failure is: client mistakes at DEBUG, unavailability at WARN, bugs at
 * ERROR (reported as INTERNAL without internals).
 */
public final class GrpcErrors {
  private static final Logger LOG = LoggerFactory.getLogger(GrpcErrors.class);

  private GrpcErrors() {}

  /** Maps a throwable to the status the client sees. */
  public static StatusRuntimeException toStatus(Throwable t) {
    if (t instanceof StatusRuntimeException sre) {
      return sre;
    }
    if (t instanceof ApiException e) {
      Status status =
          switch (e.kind()) {
            case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
            case NOT_FOUND -> Status.NOT_FOUND;
            case FAILED_PRECONDITION -> Status.FAILED_PRECONDITION;
            case ABORTED -> Status.ABORTED;
            case UNAVAILABLE -> Status.UNAVAILABLE;
            case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
            case UNAUTHENTICATED -> Status.UNAUTHENTICATED;
            case RESOURCE_EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
            case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
            case DATA_LOSS -> Status.DATA_LOSS;
            case CANCELLED -> Status.CANCELLED;
            case FAILED_FOR_PEER -> Status.INTERNAL;
          };
      if (e.kind() == ApiException.Kind.UNAVAILABLE) {
        LOG.warn("request failed: {}", e.getMessage(), e.getCause());
      } else {
        LOG.debug("request refused: {} {}", e.kind(), e.getMessage());
      }
      return status.withDescription(e.getMessage()).asRuntimeException();
    }
    LOG.error("unexpected failure while serving a request", t);
    return Status.INTERNAL.withDescription("internal error; see the server log").asRuntimeException();
  }

  /** Runs a unary handler: response on success, mapped status on failure. */
  public static <T> void unary(StreamObserver<T> observer, java.util.function.Supplier<T> handler) {
    T response;
    try {
      response = handler.get();
    } catch (RuntimeException e) {
      observer.onError(toStatus(e));
      return;
    }
    observer.onNext(response);
    observer.onCompleted();
  }
}
