package io.stratus.gateway.identity;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.stratus.support.errors.ApiException;
import io.stratus.support.grpc.GrpcErrors;
import io.stratus.support.tls.PeerGuard;
import io.stratus.support.tls.PeerIdentity;
import io.stratus.support.tls.Role;

/**
 * Puts the {@link ImageCaller} in the call's context: a conductor or agent certificate is a
 * service; a client certificate must come with {@code authorization: Bearer <token>},
 * resolved by {@link TokenValidator} (UNAUTHENTICATED without a known token). Runs after
 * {@link PeerGuard}, whose verified identity it reads; without TLS every caller is a
 * service.
 */
public final class CallerInterceptor implements ServerInterceptor {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final TokenValidator tokens;

  /** @param tokens resolves users' tokens; null when the gateway runs without TLS */
  public CallerInterceptor(TokenValidator tokens) {
    this.tokens = tokens;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    ImageCaller caller;
    try {
      caller = resolve(PeerGuard.peer(), headers.get(AUTHORIZATION));
    } catch (RuntimeException e) {
      call.close(GrpcErrors.toStatus(e).getStatus(), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return Contexts.interceptCall(Context.current().withValue(ImageCaller.KEY, caller), call,
        headers, next);
  }

  private ImageCaller resolve(PeerIdentity peer, String header) {
    if (peer == null || peer.role() != Role.CLIENT) {
      return ImageCaller.SERVICE;
    }
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)
        || header.substring(7).isBlank()) {
      throw ApiException.unauthenticated("authorization: missing 'Bearer <token>' metadata");
    }
    if (tokens == null) {
      throw ApiException.unauthenticated("authorization: this gateway has no identity.address"
          + " to check tokens with");
    }
    return tokens.validate(header.substring(7).trim());
  }
}
