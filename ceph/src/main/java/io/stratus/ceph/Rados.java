package io.stratus.ceph;

import static io.stratus.ceph.RbdException.check;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to a Ceph cluster ({@code rados_t}), configured from a ceph.conf, as the
 * client named there ({@code client.admin} by default). Thread-safe; {@link #close} shuts
 * it down after every {@link IoCtx} of it was closed.
 */
public final class Rados implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Rados.class);
  private static final LibRados LIB = LibRados.LIB;

  private final Pointer cluster;
  private final String fsid;
  private boolean closed;

  private Rados(Pointer cluster, String fsid) {
    this.cluster = cluster;
    this.fsid = fsid;
  }

  /**
   * Connects as the configuration says. The librbd cache is turned off, so a write that
   * returned is on the OSDs: an upload's durable offset is simply how far its writes got.
   */
  public static Rados connect(Path conf) throws IOException {
    LibRados lib = loadLibraries();
    PointerByReference ref = new PointerByReference();
    check(lib.rados_create(ref, null), "rados_create", "client.admin");
    Pointer cluster = ref.getValue();
    try {
      check(LIB.rados_conf_read_file(cluster, conf.toString()), "rados_conf_read_file", conf.toString());
      check(LIB.rados_conf_set(cluster, "rbd_cache", "false"), "rados_conf_set", "rbd_cache");
      check(LIB.rados_connect(cluster), "rados_connect", conf.toString());
      byte[] buf = new byte[64];
      check(LIB.rados_cluster_fsid(cluster, buf, buf.length), "rados_cluster_fsid", conf.toString());
      String fsid = Native.toString(buf);
      LOG.info("connected to Ceph; fsid={} conf={}", fsid, conf);
      return new Rados(cluster, fsid);
    } catch (IOException | RuntimeException e) {
      LIB.rados_shutdown(cluster);
      throw e;
    }
  }

  /** Loads librados and librbd, or says which packages are missing. */
  private static LibRados loadLibraries() throws IOException {
    try {
      LibRados rados = LibRados.LIB;  // librados.so.2
      Objects.requireNonNull(LibRbd.LIB);  // librbd.so.1: now, not at the first image
      return rados;
    } catch (LinkageError e) {
      throw new IOException("cannot load librados/librbd (Debian: apt-get install librados2"
          + " librbd1): " + e, e);
    }
  }

  /** The cluster's fsid (a UUID). */
  public String fsid() {
    return fsid;
  }

  /** An I/O context on {@code pool}, in {@code namespace} ("" = the default one). */
  public IoCtx ioctx(String pool, String namespace) throws IOException {
    PointerByReference ref = new PointerByReference();
    check(LIB.rados_ioctx_create(cluster, pool, ref), "rados_ioctx_create", pool);
    Pointer io = ref.getValue();
    if (!namespace.isEmpty()) {
      LIB.rados_ioctx_set_namespace(io, namespace);
    }
    return new IoCtx(io, pool);
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      LIB.rados_shutdown(cluster);
      LOG.info("disconnected from Ceph; fsid={}", fsid);
    }
  }
}
