package io.stratus.ceph;

import static io.stratus.ceph.RbdException.check;

import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import java.io.IOException;

/**
 * The RBD images of one pool: create, clone, rename, remove, open. Images get 1 MiB
 * objects ({@link #OBJECT_ORDER}) and the features librbd enables by default (layering,
 * exclusive-lock, object-map, fast-diff, deep-flatten).
 */
public final class RbdPool {
  /**
   * log2 of the object size: 1 MiB. RBD sees allocation per object — {@code
   * rbd_diff_iterate2}, {@code rbd du} and copy-up report an object as allocated from its
   * start to its last written byte — so the object size is the granularity at which holes
   * of an image stay visible as holes (reads send them as zero extents). RBD's default of
   * 4 MiB would turn an image whose data and holes alternate every MiB into 75% "used";
   * 1 MiB objects keep it at 50%, at the price of 4× more (smaller) objects.
   */
  public static final int OBJECT_ORDER = 20;
  /** layering | exclusive-lock | object-map | fast-diff | deep-flatten. */
  public static final long FEATURES = 1 | 4 | 8 | 16 | 32;

  private static final LibRbd LIB = LibRbd.LIB;

  private final IoCtx io;

  public RbdPool(IoCtx io) {
    this.io = io;
  }

  public String name() {
    return io.pool();
  }

  /** Creates a thin image of {@code size} bytes (nothing allocated yet). */
  public void create(String image, long size) throws IOException {
    check(LIB.rbd_create2(io.handle(), image, size, FEATURES, new IntByReference(OBJECT_ORDER)),
        "rbd_create2", spec(image));
  }

  /**
   * Clones {@code parentPool/parent@snap} into {@code child} of this pool, with this pool's
   * object size whatever the parent's.
   */
  public void clone(IoCtx parentPool, String parent, String snap, String child) throws IOException {
    check(LIB.rbd_clone2(parentPool.handle(), parent, snap, io.handle(), child, FEATURES,
        new IntByReference(OBJECT_ORDER), 0, 0), "rbd_clone2",
        parentPool.pool() + "/" + parent + "@" + snap + " -> " + spec(child));
  }

  public void rename(String from, String to) throws IOException {
    check(LIB.rbd_rename(io.handle(), from, to), "rbd_rename", spec(from) + " -> " + to);
  }

  /** Removes an image without snapshots; false if it did not exist. */
  public boolean remove(String image) throws IOException {
    int r = LIB.rbd_remove(io.handle(), image);
    if (r == -RbdException.ENOENT) {
      return false;
    }
    check(r, "rbd_remove", spec(image));
    return true;
  }

  /** Opens an image for reading and writing. */
  public RbdImage open(String image) throws IOException {
    PointerByReference ref = new PointerByReference();
    check(LIB.rbd_open(io.handle(), image, ref, null), "rbd_open", spec(image));
    return new RbdImage(ref.getValue(), spec(image));
  }

  /** Opens an image, or its snapshot {@code snap} when not null, for reading only. */
  public RbdImage openReadOnly(String image, String snap) throws IOException {
    PointerByReference ref = new PointerByReference();
    String spec = spec(image) + (snap == null ? "" : "@" + snap);
    check(LIB.rbd_open_read_only(io.handle(), image, ref, snap), "rbd_open_read_only", spec);
    return new RbdImage(ref.getValue(), spec);
  }

  public String spec(String image) {
    return io.pool() + "/" + image;
  }
}
