package io.stratus.conductor.identity;

import io.stratus.conductor.compute.Caller;
import io.stratus.conductor.compute.RequestValidator;
import io.stratus.conductor.config.ApiToken;
import io.stratus.conductor.db.ApiTokenEntity;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.TokenStore;
import io.stratus.support.errors.ApiException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API's tokens: 256 random bits issued by an admin for a project's user with a role
 * and an optional lifetime, kept in PostgreSQL as their SHA-256 only, revocable at once.
 * The tokens of the conductor's settings ({@code api.tokens}) are resolved first; they are
 * for bootstrap (the first admin) and are neither listed nor revocable here.
 */
public final class Tokens {
  private static final Logger LOG = LoggerFactory.getLogger(Tokens.class);
  /** Lifetimes: none (0), or one minute to one year. */
  static final long MIN_TTL_SECONDS = 60;
  static final long MAX_TTL_SECONDS = 365L * 24 * 3600;
  private static final String PREFIX = "stt_";

  /** A new token: the secret, shown once, and its record. */
  public record Issued(String secret, TokenView view) {}

  private final Database db;
  private final TokenStore store;
  private final Map<String, ApiToken> bootstrap;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  public Tokens(Database db, TokenStore store, Map<String, ApiToken> bootstrap, Clock clock) {
    this.db = db;
    this.store = store;
    this.bootstrap = Map.copyOf(bootstrap);
    this.clock = clock;
  }

  /** Who the token speaks for, if it is known, unexpired and not revoked. */
  public Optional<Caller> resolve(String secret) {
    if (secret == null || secret.isEmpty() || secret.length() > 512) {
      return Optional.empty();
    }
    ApiToken fixed = bootstrap.get(secret);
    if (fixed != null) {
      return Optional.of(new Caller(fixed.projectId(), fixed.userId(),
          fixed.role() == ApiToken.Role.ADMIN));
    }
    if (!secret.startsWith(PREFIX)) {
      return Optional.empty();
    }
    return db.inTransaction(s -> store.findUsable(s, hash(secret)))
        .map(t -> new Caller(t.projectId(), t.userId(), "admin".equals(t.role())));
  }

  /** Issues a token (admin only). */
  public Issued create(Caller caller, String projectId, String userId, ApiToken.Role role,
      long ttlSeconds, String description) {
    requireAdmin(caller);
    String project = RequestValidator.name("project_id", projectId);
    String user = RequestValidator.name("user_id", userId);
    if (role == null) {
      throw ApiException.invalidArgument("role", "must be MEMBER or ADMIN");
    }
    if (ttlSeconds != 0 && (ttlSeconds < MIN_TTL_SECONDS || ttlSeconds > MAX_TTL_SECONDS)) {
      throw ApiException.invalidArgument("ttl_seconds", "must be 0 (no expiry) or "
          + MIN_TTL_SECONDS + ".." + MAX_TTL_SECONDS + ", got " + ttlSeconds);
    }
    String about = description == null || description.isEmpty() ? ""
        : RequestValidator.name("description", description);
    return issue(project, user, role, ttlSeconds, about, caller.userId());
  }

  /**
   * Issues a token for a user who proved who it is (the Keystone subset's password or
   * token authentication), expiring after {@code ttlSeconds}.
   */
  public Issued issueAuthenticated(String projectId, String userId, ApiToken.Role role,
      long ttlSeconds, String method) {
    return issue(projectId, userId, role, ttlSeconds, "keystone " + method, userId);
  }

  /**
   * The token's record when it is known, unexpired and not revoked (a fixed bootstrap token
   * has none and is not described).
   */
  public Optional<TokenView> describe(String secret) {
    if (secret == null || !secret.startsWith(PREFIX) || secret.length() > 512) {
      return Optional.empty();
    }
    return db.inTransaction(s -> store.findUsable(s, hash(secret))).map(Tokens::view);
  }

  private Issued issue(String project, String user, ApiToken.Role role, long ttlSeconds,
      String about, String createdBy) {
    byte[] bits = new byte[32];
    random.nextBytes(bits);
    String secret = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bits);
    // PostgreSQL keeps microseconds: the record answered now equals the one read later
    Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
    ApiTokenEntity token = new ApiTokenEntity(UUID.randomUUID(), hash(secret), project, user,
        role.name().toLowerCase(Locale.ROOT), about, createdBy, now,
        ttlSeconds == 0 ? null : now.plusSeconds(ttlSeconds));
    db.run(s -> store.insert(s, token));
    LOG.info("token issued; id={} project={} user={} role={} by={} expires={}", token.id(),
        project, user, token.role(), createdBy, token.expiresAt());
    return new Issued(secret, view(token));
  }

  /** Lists tokens (admin only), newest first. */
  public List<TokenView> list(Caller caller, String projectId, boolean includeRevoked) {
    requireAdmin(caller);
    String project = projectId == null || projectId.isEmpty() ? ""
        : RequestValidator.name("project_id", projectId);
    return db.inTransaction(s -> store.list(s, project, includeRevoked)).stream()
        .map(Tokens::view).toList();
  }

  /** Revokes a token at once (admin only); revoking twice changes nothing. */
  public TokenView revoke(Caller caller, String tokenId) {
    requireAdmin(caller);
    UUID id = RequestValidator.uuid("token_id", tokenId);
    Instant now = clock.instant().truncatedTo(ChronoUnit.MICROS);
    TokenView v = db.inTransaction(s -> {
      ApiTokenEntity t = store.find(s, id)
          .orElseThrow(() -> ApiException.notFound("token " + id + " not found"));
      t.revoke(now);
      return view(t);
    });
    LOG.info("token revoked; id={} by={}", id, caller.userId());
    return v;
  }

  private static void requireAdmin(Caller caller) {
    if (!caller.admin()) {
      throw ApiException.permissionDenied("tokens are managed by admins only");
    }
  }

  private static TokenView view(ApiTokenEntity t) {
    return new TokenView(t.id(), t.projectId(), t.userId(),
        ApiToken.Role.valueOf(t.role().toUpperCase(Locale.ROOT)), t.description(), t.createdBy(),
        t.createdAt(), t.expiresAt(), t.revokedAt());
  }

  static String hash(String secret) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(secret.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }
}
