package io.stratus.gateway.domain;

import io.stratus.gateway.store.ImageBackend;
import io.stratus.support.errors.ApiException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes images left {@code queued} — created, never uploaded, or an upload abandoned —
 * for longer than {@code queued.expire} (PT24H), with whatever partial bytes they kept, so
 * a client that creates images and walks away cannot fill the catalogue. Images that are
 * being uploaded are {@code saving}, not queued, and are never touched; a volume-backed
 * snapshot's image waits for the conductor, which owns its volume snapshots.
 */
public final class QueuedImageReaper implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(QueuedImageReaper.class);

  private final ImageBackend backend;
  private final ImageCatalog catalog;
  private final Duration expireAfter;
  private final Clock clock;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().daemon().name("queued-image-reaper").factory());

  public QueuedImageReaper(ImageBackend backend, Duration expireAfter, Clock clock) {
    this.backend = backend;
    this.catalog = new ImageCatalog(backend);
    this.expireAfter = expireAfter;
    this.clock = clock;
  }

  /** Looks every quarter of the expiry (between 1 s and 10 min). */
  public QueuedImageReaper start() {
    long period = Math.clamp(expireAfter.toMillis() / 4, 1_000L, 600_000L);
    timer.scheduleWithFixedDelay(this::reap, period, period, TimeUnit.MILLISECONDS);
    return this;
  }

  /** One round; returns how many images it deleted. */
  int reap() {
    Instant cutoff = clock.instant().minus(expireAfter);
    int deleted = 0;
    try {
      for (ImageRecord r : backend.list()) {
        if (r.status() != ImageStatus.QUEUED || !r.updatedAt().isBefore(cutoff)) {
          continue;
        }
        try {
          catalog.delete(r.id(), false);
          deleted++;
          LOG.info("expired a queued image; image={} owner={} queuedSince={} limit=queued.expire {}",
              r.id(), r.owner(), r.updatedAt(), expireAfter);
        } catch (ApiException e) {
          LOG.debug("queued image {} kept: {}", r.id(), e.getMessage());
        }
      }
    } catch (RuntimeException e) {
      LOG.warn("queued-image expiry round failed; retrying next round", e);
    }
    return deleted;
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
