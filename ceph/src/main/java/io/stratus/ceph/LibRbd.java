package io.stratus.ceph;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * The librbd calls this store uses, bound with JNA (64-bit Linux: {@code size_t},
 * {@code ssize_t} and {@code uint64_t} are Java {@code long}). Results below zero are
 * {@code -errno}; callers go through {@link RbdPool} and {@link RbdImage}. See
 * {@code rbd/librbd.h} of Ceph Pacific.
 */
public interface LibRbd extends Library {
  /** Loaded on first use from {@code librbd.so.1}. */
  LibRbd LIB = Native.load("rbd", LibRbd.class);

  int rbd_create2(Pointer ioctx, String name, long size, long features, IntByReference order);

  int rbd_clone2(Pointer parentIoctx, String parentName, String parentSnap, Pointer childIoctx,
      String childName, long features, IntByReference childOrder, long stripeUnit,
      int stripeCount);

  int rbd_remove(Pointer ioctx, String name);

  int rbd_rename(Pointer ioctx, String from, String to);

  int rbd_open(Pointer ioctx, String name, PointerByReference image, String snap);

  int rbd_open_read_only(Pointer ioctx, String name, PointerByReference image, String snap);

  int rbd_close(Pointer image);

  int rbd_get_size(Pointer image, LongByReference size);

  int rbd_resize(Pointer image, long size);

  long rbd_read(Pointer image, long offset, long length, Pointer buf);

  int rbd_aio_create_completion(Pointer cbArg, Pointer completeCb, PointerByReference completion);

  long rbd_aio_write2(Pointer image, long offset, long length, Pointer buf, Pointer completion,
      int opFlags);

  int rbd_aio_is_complete(Pointer completion);

  int rbd_aio_wait_for_complete(Pointer completion);

  long rbd_aio_get_return_value(Pointer completion);

  void rbd_aio_release(Pointer completion);

  int rbd_diff_iterate2(Pointer image, String fromSnap, long offset, long length,
      byte includeParent, byte wholeObject, DiffCallback callback, Pointer arg);

  int rbd_snap_create(Pointer image, String snap);

  int rbd_snap_protect(Pointer image, String snap);

  int rbd_snap_unprotect(Pointer image, String snap);

  int rbd_snap_is_protected(Pointer image, String snap, IntByReference isProtected);

  int rbd_snap_remove(Pointer image, String snap);

  int rbd_snap_list(Pointer image, Pointer snaps, IntByReference maxSnaps);

  void rbd_snap_list_end(Pointer snaps);

  int rbd_flatten(Pointer image);

  int rbd_metadata_get(Pointer image, String key, byte[] value, LongByReference valueLength);

  int rbd_metadata_set(Pointer image, String key, String value);

  int rbd_list_children3(Pointer image, Pointer images, LongByReference maxImages);

  void rbd_linked_image_spec_list_cleanup(Pointer images, long count);

  /** {@code rbd_snap_info_t}: one snapshot of an image; passed by address, like below. */
  @Structure.FieldOrder({"id", "size", "name"})
  final class SnapInfo extends Structure {
    public long id;
    public long size;
    public String name;
  }

  /** {@code int (*cb)(uint64_t offset, size_t len, int exists, void *arg)}. */
  interface DiffCallback extends Callback {
    int invoke(long offset, long length, int exists, Pointer arg);
  }

  /**
   * {@code rbd_linked_image_spec_t}: one child (clone) of a snapshot. Passed by address
   * ({@link Structure#getPointer()}) so JNA never writes Java copies over librbd's strings.
   */
  @Structure.FieldOrder({"poolId", "poolName", "poolNamespace", "imageId", "imageName", "trash"})
  final class LinkedImageSpec extends Structure {
    public long poolId;
    public String poolName;
    public String poolNamespace;
    public String imageId;
    public String imageName;
    public byte trash;
  }
}
