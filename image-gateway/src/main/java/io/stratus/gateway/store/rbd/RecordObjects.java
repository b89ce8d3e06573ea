package io.stratus.gateway.store.rbd;

import io.stratus.ceph.LibRados;
import io.stratus.ceph.IoCtx;
import io.stratus.ceph.RbdException;
import static io.stratus.ceph.RbdException.check;

import com.google.protobuf.InvalidProtocolBufferException;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import io.stratus.gateway.domain.ImageMessages;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.proto.image.v1.Image;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Image records kept in Ceph itself: one small RADOS object {@code image.<id>} per image,
 * holding the serialized {@code image.v1.Image}, in the namespace {@value #NAMESPACE} of
 * the image pool (so listing records never walks the RBD data objects). A record is
 * created with an exclusive create and replaced with {@code rados_write_full}, which is
 * atomic: a reader sees the old record or the new one, never a mix.
 */
final class RecordObjects {
  /** RADOS namespace of the records, e.g. {@code rados -p images -N stratus ls}. */
  static final String NAMESPACE = "stratus";
  static final String PREFIX = "image.";

  private static final LibRados LIB = LibRados.LIB;
  private static final int FIRST_READ = 16 << 10;

  private final IoCtx io;

  RecordObjects(IoCtx io) {
    this.io = io;
  }

  static String objectName(String id) {
    return PREFIX + id;
  }

  /** Stores a new record; {@link RbdException} with EEXIST if the id is taken. */
  void create(ImageRecord record) throws IOException {
    byte[] bytes = ImageMessages.toProto(record).toByteArray();
    Pointer op = LIB.rados_create_write_op();
    try {
      LIB.rados_write_op_create(op, LibRados.CREATE_EXCLUSIVE, null);
      LIB.rados_write_op_write_full(op, bytes, bytes.length);
      check(LIB.rados_write_op_operate(op, io.handle(), objectName(record.id()), null, 0),
          "rados_write_op_operate", subject(record.id()));
    } finally {
      LIB.rados_release_write_op(op);
    }
  }

  /** Replaces a record atomically. */
  void save(ImageRecord record) throws IOException {
    byte[] bytes = ImageMessages.toProto(record).toByteArray();
    check(LIB.rados_write_full(io.handle(), objectName(record.id()), bytes, bytes.length),
        "rados_write_full", subject(record.id()));
  }

  /** The record of {@code id}, or empty if there is none. */
  Optional<ImageRecord> get(String id) throws IOException {
    byte[] buf = new byte[FIRST_READ];
    while (true) {
      int n = LIB.rados_read(io.handle(), objectName(id), buf, buf.length, 0);
      if (n == -RbdException.ENOENT) {
        return Optional.empty();
      }
      check(n, "rados_read", subject(id));
      if (n < buf.length) {  // one read op: the whole object, consistent
        try {
          return Optional.of(ImageMessages.fromProto(Image.parseFrom(Arrays.copyOf(buf, n))));
        } catch (InvalidProtocolBufferException e) {
          throw new IOException("record " + subject(id) + " is corrupt", e);
        }
      }
      buf = new byte[buf.length * 2];
    }
  }

  /** Removes a record; false if there was none. */
  boolean remove(String id) throws IOException {
    int r = LIB.rados_remove(io.handle(), objectName(id));
    if (r == -RbdException.ENOENT) {
      return false;
    }
    check(r, "rados_remove", subject(id));
    return true;
  }

  /** Ids of every stored record, in no particular order. */
  List<String> ids() throws IOException {
    PointerByReference ctx = new PointerByReference();
    check(LIB.rados_nobjects_list_open(io.handle(), ctx), "rados_nobjects_list_open",
        io.pool() + "/" + NAMESPACE);
    List<String> ids = new ArrayList<>();
    try {
      PointerByReference entry = new PointerByReference();
      while (true) {
        int r = LIB.rados_nobjects_list_next(ctx.getValue(), entry, null, null);
        if (r == -RbdException.ENOENT) {
          return ids;
        }
        check(r, "rados_nobjects_list_next", io.pool() + "/" + NAMESPACE);
        String name = entry.getValue().getString(0);
        if (name.startsWith(PREFIX)) {
          ids.add(name.substring(PREFIX.length()));
        }
      }
    } finally {
      LIB.rados_nobjects_list_close(ctx.getValue());
    }
  }

  private String subject(String id) {
    return io.pool() + "/" + NAMESPACE + "/" + objectName(id);
  }
}
