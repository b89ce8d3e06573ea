package io.stratus.gateway.store.rbd;

import io.stratus.ceph.IoCtx;
import io.stratus.ceph.ObjectLock;
import io.stratus.ceph.RbdException;
import io.stratus.support.concurrent.Timers;
import java.time.Duration;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which gateway replica writes an image: an expiring cls_lock on the object {@code
 * writer.<id>} (records' namespace), taken when an upload or import begins, renewed every
 * third of {@link #DURATION} while it runs, released when it ends (only if still held: a
 * replica that was presumed dead cannot release its successor's), the object removed with
 * the image ({@link #forget}). Gateways sharing a pool
 * so never write one image at once, and the upload of a replica that died is known dead
 * once its lease lapses: another replica then queues the image again and takes the
 * resume.
 */
final class WriterLeases implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(WriterLeases.class);
  /** How long a writer's lease lasts without renewal: the bound on taking over a dead one's. */
  static final Duration DURATION = Duration.ofSeconds(15);
  static final String PREFIX = "writer.";

  private final ObjectLock lock;
  private final String replica = "gateway-" + UUID.randomUUID();
  private final Set<String> held = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService timer = Timers.daemon("rbd-writer-leases");

  WriterLeases(IoCtx records, Duration duration) {
    this.lock = new ObjectLock(records, "stratus-writer", duration);
    long every = Math.max(1, duration.toMillis() / 3);
    timer.scheduleAtFixedRate(this::renewAll, every, every, TimeUnit.MILLISECONDS);
  }

  /** This replica's cookie on the locks. */
  String replica() {
    return replica;
  }

  /**
   * Takes the writer's lease of {@code id} for this replica: TAKEN when it was free or had
   * lapsed, RENEWED when this replica holds it already, BUSY when another live replica does.
   */
  ObjectLock.Outcome take(String id) throws RbdException {
    ObjectLock.Outcome o = lock.tryLock(PREFIX + id, replica);
    if (o != ObjectLock.Outcome.BUSY) {
      held.add(id);
    }
    return o;
  }

  /** Ends this replica's lease of {@code id}, if it still holds it. */
  void release(String id) {
    if (held.remove(id)) {
      try {
        lock.unlock(PREFIX + id, replica);
      } catch (RbdException e) {
        LOG.warn("could not release the writer lease; image={} (it lapses by itself)", id, e);
      }
    }
  }

  /** Removes the lease object of a deleted image (and any lock on it). */
  void forget(String id) {
    held.remove(id);
    try {
      lock.remove(PREFIX + id);
    } catch (RbdException e) {
      LOG.warn("could not remove the writer lease object; image={}", id, e);
    }
  }

  private void renewAll() {
    for (String id : held) {
      try {
        lock.renew(PREFIX + id, replica);
      } catch (RbdException e) {
        LOG.warn("could not renew the writer lease; image={}", id, e);
      }
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
