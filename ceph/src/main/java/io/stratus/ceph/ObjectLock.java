package io.stratus.ceph;

import static io.stratus.ceph.RbdException.check;

import com.sun.jna.Memory;
import java.time.Duration;

/**
 * An exclusive, expiring cls_lock on one RADOS object: a lease kept by the cluster, so
 * processes sharing a pool agree on who holds it without talking to each other. The
 * holder renews it well within {@code duration}; when the holder dies the lock lapses
 * and another may take it. Removing the object removes the lock with it, whoever holds it.
 */
public final class ObjectLock {
  /** What {@link #tryLock} found. */
  public enum Outcome {
    /** The lock was free (or had lapsed) and is now this cookie's. */
    TAKEN,
    /** This cookie held it already; it is renewed. */
    RENEWED,
    /** Another cookie holds it and it has not lapsed. */
    BUSY
  }

  private final IoCtx io;
  private final String name;
  private final Duration duration;

  /**
   * @param name the lock's name on the object (every holder uses the same)
   * @param duration how long a lock lasts without renewal
   */
  public ObjectLock(IoCtx io, String name, Duration duration) {
    this.io = io;
    this.name = name;
    this.duration = duration;
  }

  /** Takes or renews the lock on {@code oid} for {@code cookie}. */
  public Outcome tryLock(String oid, String cookie) throws RbdException {
    int r = lock(oid, cookie, (byte) 0);
    if (r == 0) {
      return Outcome.TAKEN;
    }
    if (r == -RbdException.EEXIST) {
      check(lock(oid, cookie, LibRados.LOCK_FLAG_RENEW), "rados_lock_exclusive", subject(oid));
      return Outcome.RENEWED;
    }
    if (r == -RbdException.EBUSY) {
      return Outcome.BUSY;
    }
    check(r, "rados_lock_exclusive", subject(oid));
    throw new AssertionError("unreachable");
  }

  /** Extends the lock {@code cookie} holds on {@code oid}; an error if it lapsed to another. */
  public void renew(String oid, String cookie) throws RbdException {
    check(lock(oid, cookie, LibRados.LOCK_FLAG_RENEW), "rados_lock_exclusive", subject(oid));
  }

  /**
   * Releases the lock if {@code cookie} still holds it (a holder whose lock lapsed to
   * another releases nothing); false when it did not hold it.
   */
  public boolean unlock(String oid, String cookie) throws RbdException {
    int r = LibRados.LIB.rados_unlock(io.handle(), oid, name, cookie);
    if (r == -RbdException.ENOENT) {
      return false;
    }
    check(r, "rados_unlock", subject(oid));
    return true;
  }

  /** Removes the object, and with it the lock; false when it was already gone. */
  public boolean remove(String oid) throws RbdException {
    int r = LibRados.LIB.rados_remove(io.handle(), oid);
    if (r == -RbdException.ENOENT) {
      return false;
    }
    check(r, "rados_remove", subject(oid));
    return true;
  }

  private int lock(String oid, String cookie, byte flags) {
    try (Memory timeval = new Memory(16)) {
      timeval.setLong(0, duration.toSeconds());
      timeval.setLong(8, duration.toNanosPart() / 1000);
      return LibRados.LIB.rados_lock_exclusive(io.handle(), oid, name, cookie, "stratus",
          timeval, flags);
    }
  }

  private String subject(String oid) {
    return io.pool() + "/" + oid + " lock " + name;
  }
}
