package io.stratus.conductor.recovery;

import io.stratus.conductor.db.Database;
import io.stratus.support.concurrent.Timers;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This conductor's lease in {@code conductors}: renewed every interval while the process
 * runs, deleted on a clean stop. A conductor whose lease is older than {@code expiry} is
 * considered dead and its tasks are adopted by others. Written and judged by the
 * database's clock ({@code clock_timestamp()}), so conductors whose clocks disagree still
 * agree on who is alive.
 */
public final class ConductorLease implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ConductorLease.class);

  private final String id = "conductor-" + UUID.randomUUID();
  private final Database db;
  private final Duration interval;
  private final Duration expiry;
  private final ScheduledExecutorService timer =
      Timers.daemon("conductor-lease");

  public ConductorLease(Database db, Duration interval, Duration expiry) {
    this.db = db;
    this.interval = interval;
    this.expiry = expiry;
  }

  /** This conductor's id, written into {@code instances.task_owner}. */
  public String id() {
    return id;
  }

  /** Writes the lease and keeps renewing it. */
  public void start() {
    db.run(s -> s.createNativeMutationQuery("INSERT INTO conductors (id, started_at,"
            + " last_seen_at) VALUES (:id, clock_timestamp(), clock_timestamp())")
        .setParameter("id", id)
        .executeUpdate());
    timer.scheduleAtFixedRate(this::renew, interval.toMillis(), interval.toMillis(),
        TimeUnit.MILLISECONDS);
    LOG.info("conductor lease taken; conductor={}", id);
  }

  private void renew() {
    try {
      db.run(s -> s.createNativeMutationQuery(
              "UPDATE conductors SET last_seen_at = clock_timestamp() WHERE id = :id")
          .setParameter("id", id)
          .executeUpdate());
    } catch (RuntimeException e) {
      LOG.warn("could not renew the conductor lease; conductor={}", id, e);
    }
  }

  /** Leases not renewed for this long (by the database's clock) are expired. */
  public Duration expiry() {
    return expiry;
  }

  /** Stops renewing and deletes the lease, so other conductors adopt our tasks at once. */
  @Override
  public void close() {
    timer.shutdownNow();
    try {
      db.run(s -> s.createNativeMutationQuery("DELETE FROM conductors WHERE id = :id")
          .setParameter("id", id)
          .executeUpdate());
    } catch (RuntimeException e) {
      LOG.warn("could not delete the conductor lease; conductor={}", id, e);
    }
  }
}
