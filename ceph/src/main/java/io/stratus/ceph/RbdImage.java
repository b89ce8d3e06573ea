package io.stratus.ceph;

import static io.stratus.ceph.RbdException.check;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * An open RBD image ({@code rbd_image_t}). librbd handles are thread-safe for I/O; closing
 * one while another thread uses it is not, so each handle has one owner that closes it.
 */
public final class RbdImage implements AutoCloseable {
  private static final LibRbd LIB = LibRbd.LIB;

  private final Pointer handle;
  private final String spec;
  private boolean closed;

  RbdImage(Pointer handle, String spec) {
    this.handle = handle;
    this.spec = spec;
  }

  /** {@code pool/image[@snap]}, for messages. */
  public String spec() {
    return spec;
  }

  public long size() throws IOException {
    LongByReference size = new LongByReference();
    check(LIB.rbd_get_size(handle, size), "rbd_get_size", spec);
    return size.getValue();
  }

  /** Grows or shrinks the image; shrinking drops the bytes past {@code size}. */
  public void resize(long size) throws IOException {
    check(LIB.rbd_resize(handle, size), "rbd_resize", spec);
  }

  /**
   * Starts writing {@code length} bytes from native memory, which must stay untouched until
   * the returned completion is complete; see {@link WriteWindow}.
   */
  public Pointer aioWrite(long offset, Pointer from, long length) throws IOException {
    PointerByReference completion = new PointerByReference();
    check(LIB.rbd_aio_create_completion(null, null, completion), "rbd_aio_create_completion", spec);
    long r = LIB.rbd_aio_write2(handle, offset, length, from, completion.getValue(), 0);
    if (r < 0) {
      LIB.rbd_aio_release(completion.getValue());
      check(r, "rbd_aio_write2", spec);
    }
    return completion.getValue();
  }

  /** Reads {@code length} bytes at {@code offset} into native memory. */
  public void read(long offset, Pointer into, long length) throws IOException {
    long n = check(LIB.rbd_read(handle, offset, length, into), "rbd_read", spec);
    if (n != length) {
      throw new IOException("rbd_read(" + spec + "): read " + n + " of " + length + " bytes");
    }
  }

  /**
   * The allocated spans within {@code [offset, offset + length)}, in offset order, merged
   * where adjacent ({@code rbd_diff_iterate2} from the image's creation, parent included,
   * at extent granularity).
   */
  public List<Span> allocated(long offset, long length) throws IOException {
    List<Span> found = new ArrayList<>();
    LibRbd.DiffCallback collect = (off, len, exists, arg) -> {
      if (exists != 0) {
        synchronized (found) {
          found.add(new Span(off, len));
        }
      }
      return 0;
    };
    check(LIB.rbd_diff_iterate2(handle, null, offset, length, (byte) 1, (byte) 0, collect, null),
        "rbd_diff_iterate2", spec);
    synchronized (found) {
      found.sort(Comparator.comparingLong(Span::offset));
      List<Span> merged = new ArrayList<>();
      for (Span s : found) {
        Span last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
        if (last != null && s.offset() <= last.end()) {
          merged.set(merged.size() - 1,
              new Span(last.offset(), Math.max(last.end(), s.end()) - last.offset()));
        } else {
          merged.add(s);
        }
      }
      return merged;
    }
  }

  /** Bytes allocated in the whole image. */
  public long allocatedBytes() throws IOException {
    return allocated(0, size()).stream().mapToLong(Span::length).sum();
  }

  /** Creates snapshot {@code snap} (crash-consistent, also while a guest writes). */
  public void createSnapshot(String snap) throws IOException {
    check(LIB.rbd_snap_create(handle, snap), "rbd_snap_create", spec + "@" + snap);
  }

  /** Protects snapshot {@code snap}, so it can be cloned. */
  public void protectSnapshot(String snap) throws IOException {
    check(LIB.rbd_snap_protect(handle, snap), "rbd_snap_protect", spec + "@" + snap);
  }

  /** The names of the image's snapshots. */
  public List<String> snapshots() throws IOException {
    IntByReference max = new IntByReference(8);
    while (true) {
      // librbd writes max entries plus a terminating one
      LibRbd.SnapInfo[] infos =
          (LibRbd.SnapInfo[]) new LibRbd.SnapInfo().toArray(max.getValue() + 1);
      Pointer first = infos[0].getPointer();
      int r = LIB.rbd_snap_list(handle, first, max);
      if (r == -RbdException.ERANGE) {
        continue;  // max now holds the count needed
      }
      int n = (int) check(r, "rbd_snap_list", spec);
      List<String> names = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        infos[i].read();
        names.add(infos[i].name);
      }
      LIB.rbd_snap_list_end(first);
      return names;
    }
  }

  /** Creates and protects snapshot {@code snap} (so it can be cloned). */
  public void createProtectedSnapshot(String snap) throws IOException {
    check(LIB.rbd_snap_create(handle, snap), "rbd_snap_create", spec + "@" + snap);
    check(LIB.rbd_snap_protect(handle, snap), "rbd_snap_protect", spec + "@" + snap);
  }

  /**
   * Unprotects (when protected) and removes snapshot {@code snap}; nothing if it does not
   * exist. {@link RbdException} with EBUSY while clones of it exist.
   */
  public void removeSnapshot(String snap) throws IOException {
    IntByReference prot = new IntByReference();
    int r = LIB.rbd_snap_is_protected(handle, snap, prot);
    if (r == -RbdException.ENOENT) {
      return;
    }
    check(r, "rbd_snap_is_protected", spec + "@" + snap);
    if (prot.getValue() != 0) {
      check(LIB.rbd_snap_unprotect(handle, snap), "rbd_snap_unprotect", spec + "@" + snap);
    }
    check(LIB.rbd_snap_remove(handle, snap), "rbd_snap_remove", spec + "@" + snap);
  }

  /** Copies everything the image reads from its parent into it and detaches it. */
  public void flatten() throws IOException {
    check(LIB.rbd_flatten(handle), "rbd_flatten", spec);
  }

  /** An image metadata value ({@code rbd image-meta get}), or empty if the key is unset. */
  public Optional<String> metadata(String key) throws IOException {
    byte[] buf = new byte[64];
    LongByReference length = new LongByReference(buf.length);
    int r = LIB.rbd_metadata_get(handle, key, buf, length);
    if (r == -RbdException.ENOENT) {
      return Optional.empty();
    }
    if (r == -RbdException.ERANGE) {
      buf = new byte[(int) length.getValue()];
      r = LIB.rbd_metadata_get(handle, key, buf, length);
    }
    check(r, "rbd_metadata_get", spec + " " + key);
    return Optional.of(Native.toString(buf));
  }

  public void setMetadata(String key, String value) throws IOException {
    check(LIB.rbd_metadata_set(handle, key, value), "rbd_metadata_set", spec + " " + key);
  }

  /** The clones of this image's open snapshot, as {@code pool/image}. */
  public List<String> children() throws IOException {
    LongByReference max = new LongByReference(4);
    while (true) {
      LibRbd.LinkedImageSpec[] specs =
          (LibRbd.LinkedImageSpec[]) new LibRbd.LinkedImageSpec().toArray((int) max.getValue());
      Pointer first = specs[0].getPointer();
      int r = LIB.rbd_list_children3(handle, first, max);
      if (r == -RbdException.ERANGE) {
        continue;  // max now holds the count needed
      }
      check(r, "rbd_list_children3", spec);
      int n = (int) max.getValue();
      List<String> names = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Structure s = specs[i];
        s.read();
        LibRbd.LinkedImageSpec c = (LibRbd.LinkedImageSpec) s;
        names.add(c.poolName + "/" + c.imageName);
      }
      LIB.rbd_linked_image_spec_list_cleanup(first, n);
      return names;
    }
  }

  @Override
  public synchronized void close() throws IOException {
    if (!closed) {
      closed = true;
      check(LIB.rbd_close(handle), "rbd_close", spec);
    }
  }
}
