package io.stratus.conductor.db;

import java.time.Instant;
import java.time.OffsetDateTime;
import org.hibernate.Session;

/**
 * The database's clock. Leases and liveness (a conductor's lease, a host's heartbeats)
 * are written and judged by it, never by one conductor's own clock: with conductors on
 * several machines, a clock that runs ahead on one would otherwise declare the others
 * dead, or one that lags keep a dead one alive.
 */
public final class DbClock {
  private DbClock() {}

  /** The database's time now (clock_timestamp(), not the transaction's start). */
  public static Instant now(Session session) {
    return Jdbc.queryOne(session, "SELECT clock_timestamp()",
        rs -> rs.getObject(1, OffsetDateTime.class).toInstant()).orElseThrow();
  }
}
