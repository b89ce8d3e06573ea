package io.stratus.gateway.checksum;

import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.ImageStatus;
import io.stratus.gateway.store.Extent;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.support.digest.ChunkDigest;
import io.stratus.support.errors.ApiException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fills Glance's {@code checksum} (md5) and {@code os_hash_value} (sha512) of images that
 * became active, off the upload's critical path. Both digests cover the full guest-visible
 * content, zeros included, so their cost is the virtual size: they run here, one image at
 * a time, on one thread at the lowest CPU priority, and the record carries {@code
 * stratus_checksum_pending=true} until they are recorded. The same pass recomputes the
 * content digest from the stored bytes: an image whose uploader supplied its digest (and
 * the gateway did not hash it on the way) is killed if the store does not match it. For a
 * store that computes md5 and sha512 itself (Glance) only that digest check runs, over the
 * data alone ({@code stratus_digest_pending=true} until then). Images still pending when the
 * gateway stopped are picked up again at start. An image deleted meanwhile is skipped.
 */
public final class ChecksumFiller implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ChecksumFiller.class);
  private static final int READ = 4 << 20;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

  private final ImageBackend backend;
  private final ExecutorService worker = Executors.newSingleThreadExecutor(
      Thread.ofPlatform().daemon().name("checksum-filler").factory());

  public ChecksumFiller(ImageBackend backend) {
    this.backend = backend;
    worker.execute(LowPriority::apply);
  }

  /** Queues every active image still marked pending (after a restart). */
  public void recoverPending() {
    for (ImageRecord r : backend.list()) {
      if (r.status() == ImageStatus.ACTIVE && (r.checksumPending() || r.digestPending())) {
        schedule(r.id());
      }
    }
  }

  /** Queues one image. */
  public void schedule(String imageId) {
    worker.execute(() -> fill(imageId));
  }

  private void fill(String imageId) {
    long started = System.nanoTime();
    try {
      ImageRecord image = backend.get(imageId).orElse(null);
      if (image == null || image.status() != ImageStatus.ACTIVE) {
        return;
      }
      if (!image.checksumPending()) {
        if (image.digestPending()) {
          verifyDigest(image, started);
        }
        return;
      }
      MessageDigest md5 = MessageDigest.getInstance("MD5");
      MessageDigest sha512 = MessageDigest.getInstance("SHA-512");
      ChunkDigest content = new ChunkDigest();
      long at = 0;
      try (ExtentSource source = backend.open(image)) {
        Extent e;
        while ((e = source.next(READ)) != null) {
          if (Thread.currentThread().isInterrupted()) {
            LOG.info("checksums left pending at shutdown; image={}", imageId);
            return;
          }
          zeros(md5, sha512, e.offset() - at);
          if (e instanceof Extent.Data d) {
            md5.update(d.data().duplicate());
            sha512.update(d.data().duplicate());
            content.data(d.offset(), d.data());
          } else {
            zeros(md5, sha512, e.length());
          }
          at = e.offset() + e.length();
        }
      }
      zeros(md5, sha512, image.virtualSize() - at);
      String stored = content.finish(image.virtualSize());
      if (!image.contentDigest().isEmpty() && !image.contentDigest().equals(stored)) {
        // The bytes in the store are not those the uploader read: never serve them.
        LOG.error("stored content differs from the uploader's content digest, image killed;"
            + " image={} recorded={} stored={}", imageId, image.contentDigest(), stored);
        backend.kill(imageId);
        return;
      }
      backend.recordChecksums(imageId, HexFormat.of().formatHex(md5.digest()),
          HexFormat.of().formatHex(sha512.digest()));
      LOG.info("checksums recorded; image={} virtualSize={} seconds={}", imageId,
          image.virtualSize(), String.format("%.2f", (System.nanoTime() - started) / 1e9));
    } catch (ApiException e) {
      if (e.kind() == ApiException.Kind.NOT_FOUND) {
        LOG.info("image deleted before its checksums were recorded; image={}", imageId);
      } else {
        LOG.warn("could not record checksums; image={}", imageId, e);
      }
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has MD5 and SHA-512", e);
    } catch (Exception e) {
      // Left pending: the next start tries again.
      LOG.warn("could not compute checksums; image={}", imageId, e);
    }
  }

  /**
   * Checks the stored bytes of an image whose store computed md5 and sha512 itself against
   * the uploader's content digest: only the data is read and hashed, so this costs the
   * allocated bytes. A mismatch kills the image.
   */
  private void verifyDigest(ImageRecord image, long started) throws Exception {
    ChunkDigest content = new ChunkDigest();
    try (ExtentSource source = backend.open(image)) {
      Extent e;
      while ((e = source.next(READ)) != null) {
        if (Thread.currentThread().isInterrupted()) {
          LOG.info("digest check left pending at shutdown; image={}", image.id());
          return;
        }
        if (e instanceof Extent.Data d) {
          content.data(d.offset(), d.data());
        }
      }
    }
    String stored = content.finish(image.virtualSize());
    if (!image.contentDigest().equals(stored)) {
      LOG.error("stored content differs from the uploader's content digest, image killed;"
          + " image={} recorded={} stored={}", image.id(), image.contentDigest(), stored);
      backend.kill(image.id());
      return;
    }
    backend.update(image.id(), null, java.util.Map.of(),
        java.util.Set.of(ImageRecord.DIGEST_PENDING));
    LOG.info("content digest checked; image={} virtualSize={} seconds={}", image.id(),
        image.virtualSize(), String.format("%.2f", (System.nanoTime() - started) / 1e9));
  }

  private static void zeros(MessageDigest a, MessageDigest b, long length) {
    for (long left = length; left > 0; ) {
      int n = (int) Math.min(left, ZEROS.capacity());
      a.update(ZEROS.duplicate().limit(n));
      b.update(ZEROS.duplicate().limit(n));
      left -= n;
    }
  }

  /** Stops; what is still pending stays marked and is picked up at the next start. */
  @Override
  public void close() throws InterruptedException {
    worker.shutdownNow();
    worker.awaitTermination(10, TimeUnit.SECONDS);
  }
}
