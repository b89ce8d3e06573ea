package io.stratus.conductor.api;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.stratus.conductor.compute.Caller;
import io.stratus.conductor.config.ApiToken;
import java.util.Map;

/**
 * Maps {@code authorization: Bearer <token>} to a {@link Caller} in the call's context;
 * calls without a known token end UNAUTHENTICATED before reaching a service.
 */
public final class AuthInterceptor implements ServerInterceptor {
  /** The caller of the current call. */
  public static final Context.Key<Caller> CALLER = Context.key("stratus-caller");

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final Map<String, ApiToken> tokens;

  public AuthInterceptor(Map<String, ApiToken> tokens) {
    this.tokens = Map.copyOf(tokens);
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
    ApiToken token = tokens.get(header.substring(7).trim());
    if (token == null) {
      call.close(Status.UNAUTHENTICATED.withDescription("authorization: unknown token"),
          new Metadata());
      return new ServerCall.Listener<>() {};
    }
    Caller caller = new Caller(token.projectId(), token.userId(),
        token.role() == ApiToken.Role.ADMIN);
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
