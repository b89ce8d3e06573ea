package io.stratus.gateway.store.rbd;

import io.stratus.ceph.Rados;
import io.stratus.ceph.IoCtx;
import io.stratus.ceph.RbdPool;
import io.stratus.ceph.RbdImage;
import io.stratus.ceph.RbdException;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Nova's direct snapshot on the gateway's side: a protected snapshot of a disk in the same
 * cluster becomes an image without a byte passing through the gateway.
 *
 * <pre>
 *   queued ──► saving ──clone SRC@SNAP to ID.upload──► flatten ──► snap + protect
 *          ──rename to ID──► active (location rbd://FSID/POOL/ID/snap)
 *   any failure: ID.upload / ID removed, record queued again
 * </pre>
 *
 * The image is flattened, so it does not depend on the disk: the agent may unprotect and
 * remove its snapshot right after. Its checksum and os_hash_value stay empty, as in Nova
 * (Glance records a direct snapshot by location, without reading it): computing them would
 * mean reading the whole image through the gateway, which is what this path avoids.
 */
final class CloneImport {
  private static final Logger LOG = LoggerFactory.getLogger(CloneImport.class);

  /** Where the content comes from: {@code pool/image@snapshot} in cluster {@code fsid}. */
  record Source(String fsid, String pool, String image, String snapshot) {
    @Override
    public String toString() {
      return pool + "/" + image + "@" + snapshot;
    }
  }

  private final RbdBackend store;
  private final RbdPool pool;
  private final Rados rados;

  CloneImport(RbdBackend store, RbdPool pool, Rados rados) {
    this.store = store;
    this.pool = pool;
    this.rados = rados;
  }

  ImageRecord run(String id, Source source) throws IOException {
    validate(source);
    long started = System.nanoTime();
    store.beginImport(id, this);
    try {
      String target = ImageContent.privateName(id);
      cloneInto(target, source);
      long size;
      try (RbdImage clone = pool.open(target)) {
        clone.flatten();
        size = clone.size();
      }
      ImageRecord active = store.publish(this, id, size, "", false);
      LOG.info("direct import done; image={} source={} size={} ms={}", id, source, size,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      return active;
    } catch (IOException | RuntimeException e) {
      LOG.warn("direct import failed, nothing kept; image={} source={}: {}", id, source,
          e.getMessage());
      store.writeEnded(this, id, false);
      throw e;
    }
  }

  /** Clones the source snapshot; NOT_FOUND if its pool, image or snapshot does not exist. */
  private void cloneInto(String target, Source source) throws IOException {
    try (IoCtx from = rados.ioctx(source.pool(), "")) {
      pool.clone(from, source.image(), source.snapshot(), target);
    } catch (RbdException e) {
      if (e.notFound()) {
        throw ApiException.notFound("snapshot " + source + " not found in Ceph cluster "
            + source.fsid() + " (" + e.getMessage() + ")");
      }
      throw e;
    }
  }

  private void validate(Source s) {
    nonEmpty("ceph_fsid", s.fsid());
    nonEmpty("source_pool", s.pool());
    nonEmpty("source_image", s.image());
    nonEmpty("source_snapshot", s.snapshot());
    if (!s.fsid().equalsIgnoreCase(rados.fsid())) {
      throw ApiException.failedPrecondition("the store is Ceph cluster " + rados.fsid()
          + ", the disk is in " + s.fsid() + ": stream the bytes instead");
    }
  }

  private static void nonEmpty(String field, String value) {
    if (value == null || value.isEmpty()) {
      throw ApiException.invalidArgument(field, "must not be empty");
    }
  }
}
