package io.stratus.conductor.identity;

import io.stratus.conductor.config.ApiToken;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.UserEntity;
import io.stratus.conductor.db.UserStore;
import io.stratus.support.errors.ApiException;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The users of the Keystone subset: password authentication against salted hashes, and
 * the users an operator bootstraps from configuration ({@code openstack.users}, as {@code
 * keystone-manage bootstrap} does), created or reset at start-up.
 */
public final class Users {
  private static final Logger LOG = LoggerFactory.getLogger(Users.class);
  /** The domain users live in when none is named (Keystone's {@code default}). */
  public static final String DEFAULT_DOMAIN = "default";

  /** A user as an authentication proves it. */
  public record User(String id, String name, String domain, String projectId,
      ApiToken.Role role) {}

  /** A user an operator configures: its name, project, role and password. */
  public record Bootstrap(String name, String projectId, ApiToken.Role role, String password) {}

  private final Database db;
  private final UserStore store = new UserStore();
  private final Clock clock;

  public Users(Database db, Clock clock) {
    this.db = db;
    this.clock = clock;
  }

  /**
   * Creates or resets each configured user (in the default domain). Hashing is slow on
   * purpose, so it happens before the transaction.
   */
  public void bootstrap(List<Bootstrap> users) {
    for (Bootstrap b : users) {
      String hash = Passwords.hash(b.password());
      String role = b.role().name().toLowerCase(Locale.ROOT);
      db.run(s -> store.byName(s, DEFAULT_DOMAIN, b.name()).ifPresentOrElse(
          u -> u.reset(hash, b.projectId(), role),
          () -> store.insert(s, new UserEntity(UUID.randomUUID().toString().replace("-", ""),
              b.name(), DEFAULT_DOMAIN, hash, b.projectId(), role, clock.instant()))));
      LOG.info("user bootstrapped; name={} project={} role={}", b.name(), b.projectId(), role);
    }
  }

  /**
   * The user whose name (in {@code domain}, by name or id) and password these are;
   * UNAUTHENTICATED, the same for every mismatch, otherwise.
   */
  public User authenticate(String domain, String name, String id, String password) {
    Optional<UserEntity> found = db.inTransaction(s -> id != null ? store.find(s, id)
        : store.byName(s, normalDomain(domain), name));
    // hash even for an unknown user, so that timing does not tell which names exist
    String stored = found.map(UserEntity::passwordHash).orElse(DUMMY_HASH);
    boolean ok = password != null && Passwords.matches(password, stored);
    if (!ok || found.isEmpty() || !found.get().enabled()) {
      throw ApiException.unauthenticated("The request you have made requires authentication.");
    }
    return view(found.get());
  }

  /** The user with this id, if it exists and is enabled. */
  public Optional<User> find(String id) {
    return db.inTransaction(s -> store.find(s, id)).filter(UserEntity::enabled).map(Users::view);
  }

  /** Keystone's domain names are case-insensitive ("Default" and "default"). */
  private static String normalDomain(String domain) {
    return domain == null || domain.isEmpty() ? DEFAULT_DOMAIN
        : domain.toLowerCase(Locale.ROOT);
  }

  private static User view(UserEntity u) {
    return new User(u.id(), u.name(), u.domain(), u.projectId(),
        ApiToken.Role.valueOf(u.role().toUpperCase(Locale.ROOT)));
  }

  private static final String DUMMY_HASH = Passwords.hash(UUID.randomUUID().toString());
}
