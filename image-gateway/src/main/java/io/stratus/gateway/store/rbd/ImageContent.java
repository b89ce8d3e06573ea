package io.stratus.gateway.store.rbd;

import io.stratus.ceph.RbdPool;
import io.stratus.ceph.RbdImage;
import io.stratus.ceph.RbdException;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.util.List;

/**
 * The RBD images that hold one image's bytes: {@code ID} (committed, with the protected
 * snapshot {@value #SNAPSHOT}) and {@code ID.upload} (private, while being written).
 */
final class ImageContent {
  /** The protected snapshot every committed image has. */
  static final String SNAPSHOT = "snap";

  private final RbdPool pool;
  private final String fsid;

  ImageContent(RbdPool pool, String fsid) {
    this.pool = pool;
    this.fsid = fsid;
  }

  static String privateName(String id) {
    return id + ".upload";
  }

  /** Where clients and Nova find the image: {@code rbd://FSID/POOL/ID/snap}. */
  String location(String id) {
    return "rbd://" + fsid + "/" + pool.name() + "/" + id + "/" + SNAPSHOT;
  }

  String privateSpec(String id) {
    return pool.spec(privateName(id));
  }

  /**
   * Makes {@code ID.upload} the image's content: protected snapshot, then rename to
   * {@code ID} — the step after which the bytes exist under the image's name.
   */
  void publish(String id) throws IOException {
    try (RbdImage image = pool.open(privateName(id))) {
      image.removeSnapshot(SNAPSHOT);  // left by an earlier attempt that crashed
      image.createProtectedSnapshot(SNAPSHOT);
    }
    pool.rename(privateName(id), id);
  }

  /** Removes {@code ID}, and {@code ID.upload} too when {@code withPrivate}. */
  void drop(String id, boolean withPrivate) throws IOException {
    drop(id, id);
    if (withPrivate) {
      drop(id, privateName(id));
    }
  }

  /** Removes {@code ID.upload}, if it exists. */
  void dropPrivate(String id) throws IOException {
    drop(id, privateName(id));
  }

  /**
   * Removes RBD image {@code name} of image {@code id}, its snapshot first; nothing if it
   * does not exist. FAILED_PRECONDITION naming the clones, with nothing removed, while
   * clones depend on the snapshot.
   */
  private void drop(String id, String name) throws IOException {
    try (RbdImage image = pool.open(name)) {
      try {
        image.removeSnapshot(SNAPSHOT);
      } catch (RbdException e) {
        // No snapshot is no obstacle: a private upload image (ID.upload) never has one.
        // (Taking that for "no such image" left every interrupted upload's ID.upload in
        // the pool for ever, and made a new upload from 0 fail with EEXIST.)
        if (!e.notFound()) {
          if (e.errno() == RbdException.EBUSY) {
            throw ApiException.failedPrecondition("image " + id + " is in use: its snapshot "
                + pool.spec(name) + "@" + SNAPSHOT + " has the dependent clone(s) "
                + String.join(", ", clonesOf(name)) + "; flatten or delete them first");
          }
          throw e;
        }
      }
    } catch (RbdException e) {
      if (e.notFound()) {
        return;  // no such RBD image
      }
      throw e;
    }
    pool.remove(name);
  }

  private List<String> clonesOf(String name) throws IOException {
    try (RbdImage snap = pool.openReadOnly(name, SNAPSHOT)) {
      return snap.children();
    }
  }

  /** Reads the committed content from its snapshot. */
  ExtentSource open(String id) throws IOException {
    RbdImage snap = pool.openReadOnly(id, SNAPSHOT);
    try {
      return new RbdExtentSource(snap, snap.size(), true);
    } catch (IOException | RuntimeException e) {
      snap.close();
      throw e;
    }
  }

  /** Allocated bytes of {@code ID}; 0 when it does not exist. */
  long storedBytes(String id) throws IOException {
    try (RbdImage image = pool.openReadOnly(id, null)) {
      return image.allocatedBytes();
    } catch (RbdException e) {
      if (e.notFound()) {
        return 0;
      }
      throw e;
    }
  }

  /** The durable offset upload {@code uploadId} kept in {@code ID.upload}, or 0. */
  long keptOffset(String id, String uploadId) throws IOException {
    try (RbdImage image = pool.openReadOnly(privateName(id), null)) {
      return RbdUpload.keptOffset(image, uploadId);
    } catch (RbdException e) {
      if (e.notFound()) {
        return 0;
      }
      throw e;
    }
  }
}
