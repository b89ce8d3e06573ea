package io.stratus.ceph;

import com.sun.jna.Pointer;

/** A {@code rados_ioctx_t}: one pool (and namespace) of a {@link Rados} connection. */
public final class IoCtx implements AutoCloseable {
  private final Pointer handle;
  private final String pool;
  private boolean closed;

  IoCtx(Pointer handle, String pool) {
    this.handle = handle;
    this.pool = pool;
  }

  public Pointer handle() {
    return handle;
  }

  public String pool() {
    return pool;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      LibRados.LIB.rados_ioctx_destroy(handle);
    }
  }
}
