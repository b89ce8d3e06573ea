package io.stratus.conductor.db;

import java.util.List;
import java.util.Optional;
import org.hibernate.Session;

/** Reads and writes {@code hosts}. */
public final class HostStore {

  /**
   * Serializes the registrations of one host name until the transaction ends (a PostgreSQL
   * advisory transaction lock on the name's hash), so that two agents registering the same
   * name at once cannot both insert it.
   */
  public void lockName(Session session, String name) {
    session.createNativeQuery("SELECT pg_advisory_xact_lock(hashtext(:n))", Object.class)
        .setParameter("n", name)
        .getSingleResult();
  }

  /** Where a host's agent listens and when it last beat, by the database's clock. */
  public record Reachability(String name, String address, java.time.Instant lastHeartbeatAt,
      java.time.Instant now) {}

  /**
   * {@link Reachability} of {@code name} in one plain JDBC statement (every operation on a
   * server reads it; an entity load cost more than the query).
   */
  public Optional<Reachability> reachability(Session session, String name) {
    return Jdbc.queryOne(session, "SELECT name, address, last_heartbeat_at, now() FROM hosts"
        + " WHERE name = ?", rs -> new Reachability(rs.getString(1), rs.getString(2),
            Jdbc.instant(rs, 3), Jdbc.instant(rs, 4)), name);
  }

  /**
   * How many hosts are up (a beat within {@code downAfter} of the database's clock), down,
   * and disabled, in one statement: what the metrics gauges show, without loading every
   * host.
   */
  public java.util.Map<String, Long> countByStatus(Session session,
      java.time.Duration downAfter) {
    return Jdbc.queryOne(session, "SELECT"
        + " count(*) FILTER (WHERE last_heartbeat_at + make_interval(secs => ?) > now()),"
        + " count(*) FILTER (WHERE last_heartbeat_at IS NULL"
        + "   OR last_heartbeat_at + make_interval(secs => ?) <= now()),"
        + " count(*) FILTER (WHERE disabled) FROM hosts",
        rs -> java.util.Map.of("up", rs.getLong(1), "down", rs.getLong(2),
            "disabled", rs.getLong(3)),
        downAfter.toMillis() / 1000.0, downAfter.toMillis() / 1000.0).orElseThrow();
  }

  public Optional<HostEntity> find(Session session, String name) {
    return Optional.ofNullable(session.find(HostEntity.class, name));
  }

  /** Locks the host row for the rest of the transaction (registration is an upsert). */
  public Optional<HostEntity> findForUpdate(Session session, String name) {
    return Optional.ofNullable(
        session.find(HostEntity.class, name, jakarta.persistence.LockModeType.PESSIMISTIC_WRITE));
  }

  public void insert(Session session, HostEntity host) {
    session.persist(host);
  }

  public List<HostEntity> list(Session session) {
    return session
        .createSelectionQuery("from HostEntity h order by h.name", HostEntity.class)
        .getResultList();
  }

}
