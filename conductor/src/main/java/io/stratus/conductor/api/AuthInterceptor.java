package io.stratus.conductor.api;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.stratus.conductor.compute.Caller;
import io.stratus.conductor.identity.Tokens;
import io.stratus.support.grpc.GrpcErrors;

/**
 * Maps {@code authorization: Bearer <token>} to a {@link Caller} in the call's context;
 * calls without a known token end UNAUTHENTICATED before reaching a service.
 */
public final class AuthInterceptor implements ServerInterceptor {
  /** The caller of the current call. */
  public static final Context.Key<Caller> CALLER = Context.key("stratus-caller");

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final Tokens tokens;

  public AuthInterceptor(Tokens tokens) {
    this.tokens = tokens;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String header = headers.get(AUTHORIZATION);
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      call.close(Status.UNAUTHENTICATED.withDescription(
          "authorization: missing 'Bearer <token>' metadata"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    Caller caller;
    try {
      caller = tokens.resolve(header.substring(7).trim()).orElse(null);
    } catch (RuntimeException e) {
      call.close(GrpcErrors.toStatus(e).getStatus(), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    if (caller == null) {
      call.close(Status.UNAUTHENTICATED.withDescription(
          "authorization: unknown, expired or revoked token"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return Contexts.interceptCall(Context.current().withValue(CALLER, caller), call, headers, next);
  }

  /** The current call's caller (set by this interceptor). */
  public static Caller caller() {
    Caller c = CALLER.get();
    if (c == null) {
      throw Status.UNAUTHENTICATED.withDescription("no caller").asRuntimeException();
    }
    return c;
  }
}
