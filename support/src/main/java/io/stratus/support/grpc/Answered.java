package io.stratus.support.grpc;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * Tells a server's answer from a broken call. A status the server itself closed the call
 * with carries the trailer {@code stratus-answered}; a status made on the client's side (a
 * connection that dropped, a peer that died, a deadline) does not. A conductor whose agent
 * stream ends UNAVAILABLE thus knows whether the agent said so (the image-gateway was
 * unreachable: a real failure) or the link broke (re-attach to the operation by its id).
 */
public final class Answered implements ServerInterceptor {
  /** Trailer set on every status a marked server closes a call with. */
  public static final Metadata.Key<String> KEY =
      Metadata.Key.of("stratus-answered", Metadata.ASCII_STRING_MARSHALLER);

  private static final Answered INSTANCE = new Answered();

  private Answered() {}

  /** The interceptor that marks every status of the services it wraps. */
  public static ServerInterceptor marker() {
    return INSTANCE;
  }

  /** Whether {@code t} is a status the server answered with, not a broken call. */
  public static boolean byServer(Throwable t) {
    Metadata trailers = Status.trailersFromThrowable(t);
    return trailers != null && trailers.containsKey(KEY);
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
      ServerCallHandler<Q, A> next) {
    return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        trailers.put(KEY, "1");
        super.close(status, trailers);
      }
    }, headers);
  }
}
