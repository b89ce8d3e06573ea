package io.stratus.conductor.recovery;

import io.stratus.conductor.compute.SnapshotImages;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.DbClock;
import io.stratus.conductor.db.InstanceStore;
import io.stratus.conductor.db.VolumeStore;
import io.stratus.conductor.image.ImageRegistry;
import io.stratus.support.concurrent.Timers;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Collects what a crash between two steps of a snapshot can leave, once it is older than
 * {@code after} (longer than the gap between the steps, so work in progress is never
 * taken):
 *
 * <ul>
 *   <li>a snapshot image still queued or saving that no instance's task is filling (a
 *       conductor died between creating the image record and the state swap, or a failed
 *       snapshot's image could not be deleted) is deleted;
 *   <li>volume snapshots recorded for an image that no longer exists (a volume-backed
 *       snapshot whose image completion failed and whose clean-up was cut short) are
 *       removed in Ceph and their rows deleted.
 * </ul>
 */
public final class SnapshotGc implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotGc.class);

  private final Database db;
  private final InstanceStore instances;
  private final VolumeStore volumes = new VolumeStore();
  private final ImageRegistry images;
  private final SnapshotImages snapshotImages;
  private final Duration after;
  private final ScheduledExecutorService timer =
      Timers.daemon("snapshot-gc");

  public SnapshotGc(Database db, InstanceStore instances, ImageRegistry images,
      SnapshotImages snapshotImages, Duration after) {
    this.db = db;
    this.instances = instances;
    this.images = images;
    this.snapshotImages = snapshotImages;
    this.after = after;
  }

  /** Collects every {@code interval}. */
  public void start(Duration interval) {
    timer.scheduleWithFixedDelay(() -> {
      try {
        collectOnce();
      } catch (RuntimeException e) {
        LOG.warn("snapshot garbage collection failed; it runs again", e);
      }
    }, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** One pass; returns how many images and volume-snapshot sets were collected. */
  public int collectOnce() {
    int collected = 0;
    Set<String> inFlight = db.inTransaction(instances::imagesInFlight);
    Instant cutoff = db.inTransaction(DbClock::now).minus(after);
    for (ImageRegistry.Unfinished u : images.unfinishedSnapshots()) {
      if (inFlight.contains(u.id()) || u.createdAt().isAfter(cutoff)) {
        continue;
      }
      try {
        snapshotImages.releaseVolumeSnapshots(u.id());
        images.delete(u.id());
        collected++;
        LOG.warn("collected a snapshot image no task fills; image={} status={} created={}",
            u.id(), u.status(), u.createdAt());
      } catch (RuntimeException e) {
        LOG.warn("could not collect snapshot image {}: {}", u.id(), e.getMessage());
      }
    }
    for (String imageId : db.inTransaction(s -> volumes.imagesWithSnapshotsOlderThan(s, after))) {
      if (inFlight.contains(imageId) || images.status(imageId).isPresent()) {
        continue;
      }
      try {
        int n = snapshotImages.releaseVolumeSnapshots(imageId);
        collected++;
        LOG.warn("collected {} volume snapshots of an image that is gone; image={}", n, imageId);
      } catch (RuntimeException e) {
        LOG.warn("could not collect the volume snapshots of image {}: {}", imageId,
            e.getMessage());
      }
    }
    return collected;
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
