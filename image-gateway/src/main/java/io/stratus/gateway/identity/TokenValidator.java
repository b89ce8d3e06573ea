package io.stratus.gateway.identity;

import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.IdentityGrpc;
import io.stratus.proto.conductor.v1.ValidateTokenRequest;
import io.stratus.proto.conductor.v1.ValidateTokenResponse;
import io.stratus.support.errors.ApiException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Resolves users' tokens through the conductor's {@code Identity} service (as Glance asks
 * Keystone), keeping each answer for {@code ttl} (at most 30 s, which bounds how long a
 * revoked token still opens images here). Unknown tokens are remembered for a few seconds
 * too, so a client retrying a bad token does not hammer the conductor. At most
 * {@value #MAX_ENTRIES} answers are kept.
 */
public final class TokenValidator {
  static final int MAX_ENTRIES = 10_000;
  private static final Duration NEGATIVE_TTL = Duration.ofSeconds(5);

  private record Entry(ImageCaller caller, Instant until) {}

  private final IdentityGrpc.IdentityBlockingStub identity;
  private final Duration ttl;
  private final Clock clock;
  private final Map<String, Entry> cache = new ConcurrentHashMap<>();

  public TokenValidator(Channel conductor, Duration ttl, Clock clock) {
    this.identity = IdentityGrpc.newBlockingStub(conductor);
    this.ttl = ttl.compareTo(Duration.ofSeconds(30)) > 0 ? Duration.ofSeconds(30) : ttl;
    this.clock = clock;
  }

  /**
   * The user the token belongs to.
   *
   * @throws ApiException UNAUTHENTICATED for an unknown token, UNAVAILABLE when the
   *     conductor cannot answer
   */
  public ImageCaller validate(String token) {
    Instant now = clock.instant();
    Entry hit = cache.get(token);
    if (hit != null && now.isBefore(hit.until())) {
      return known(hit);
    }
    ImageCaller caller;
    try {
      ValidateTokenResponse r = identity.withDeadlineAfter(5, TimeUnit.SECONDS)
          .validateToken(ValidateTokenRequest.newBuilder().setToken(token).build());
      caller = new ImageCaller(r.getProjectId(), r.getUserId(), r.getAdmin(), false);
    } catch (StatusRuntimeException e) {
      Status.Code code = e.getStatus().getCode();
      if (code == Status.Code.UNAUTHENTICATED || code == Status.Code.INVALID_ARGUMENT) {
        remember(token, new Entry(null, now.plus(NEGATIVE_TTL)));
        throw ApiException.unauthenticated("authorization: unknown token");
      }
      throw ApiException.unavailable("authorization: the conductor could not check the token ("
          + code + ")", e);
    }
    remember(token, new Entry(caller, now.plus(ttl)));
    return caller;
  }

  private static ImageCaller known(Entry e) {
    if (e.caller() == null) {
      throw ApiException.unauthenticated("authorization: unknown token");
    }
    return e.caller();
  }

  private void remember(String token, Entry e) {
    if (cache.size() >= MAX_ENTRIES) {
      cache.clear();
    }
    cache.put(token, e);
  }
}
