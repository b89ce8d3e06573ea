package io.stratus.ceph;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/**
 * The librados calls this store uses, bound with JNA (64-bit Linux: {@code size_t} and
 * {@code uint64_t} are Java {@code long}). Every {@code int} result below zero is
 * {@code -errno}; callers go through {@link Rados} and {@link RecordObjects}, never this
 * interface directly. See {@code rados/librados.h} of Ceph Pacific.
 */
public interface LibRados extends Library {
  /** {@code LIBRADOS_CREATE_EXCLUSIVE}: fail with {@code -EEXIST} if the object exists. */
  int CREATE_EXCLUSIVE = 1;

  /** Loaded on first use from {@code librados.so.2}. */
  LibRados LIB = Native.load("rados", LibRados.class);

  int rados_create(PointerByReference cluster, String id);

  int rados_conf_read_file(Pointer cluster, String path);

  int rados_conf_set(Pointer cluster, String option, String value);

  int rados_connect(Pointer cluster);

  void rados_shutdown(Pointer cluster);

  int rados_cluster_fsid(Pointer cluster, byte[] buf, long len);

  int rados_ioctx_create(Pointer cluster, String pool, PointerByReference ioctx);

  void rados_ioctx_destroy(Pointer ioctx);

  void rados_ioctx_set_namespace(Pointer ioctx, String namespace);

  int rados_write_full(Pointer ioctx, String oid, byte[] buf, long len);

  int rados_read(Pointer ioctx, String oid, byte[] buf, long len, long offset);

  int rados_remove(Pointer ioctx, String oid);

  Pointer rados_create_write_op();

  void rados_release_write_op(Pointer op);

  void rados_write_op_create(Pointer op, int exclusive, String category);

  void rados_write_op_write_full(Pointer op, byte[] buf, long len);

  int rados_write_op_operate(Pointer op, Pointer ioctx, String oid, Pointer mtime, int flags);

  int rados_nobjects_list_open(Pointer ioctx, PointerByReference listCtx);

  int rados_nobjects_list_next(Pointer listCtx, PointerByReference entry, PointerByReference key,
      PointerByReference namespace);

  void rados_nobjects_list_close(Pointer listCtx);

  /** {@code LIBRADOS_LOCK_FLAG_RENEW}: extend a lock this cookie already holds. */
  byte LOCK_FLAG_RENEW = 1;

  /**
   * cls_lock's exclusive lock on an object (created if missing), expiring after {@code
   * duration} (a {@code struct timeval}) unless renewed: {@code -EBUSY} when another
   * cookie holds it, {@code -EEXIST} when this one does and {@code flags} has no renew.
   */
  int rados_lock_exclusive(Pointer ioctx, String oid, String name, String cookie, String desc,
      Pointer duration, byte flags);

  /** Releases the lock {@code cookie} holds; {@code -ENOENT} when it holds none. */
  int rados_unlock(Pointer ioctx, String oid, String name, String cookie);
}
