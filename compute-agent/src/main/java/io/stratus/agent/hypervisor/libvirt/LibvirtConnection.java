package io.stratus.agent.hypervisor.libvirt;

import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.agent.hypervisor.HypervisorException.Kind;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One libvirt connection shared by all threads (libvirt connections are thread-safe), with
 * the {@link LibvirtNative} bindings' own connection beside it. The read lock is held for the
 * length of every call; {@link #close()} and reconnecting take the write lock, so neither
 * native connection is freed under a running call. If either has died (libvirtd restarted),
 * the next call opens both anew; the call that noticed the broken socket fails with
 * {@link Kind#FAILED}.
 */
final class LibvirtConnection implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(LibvirtConnection.class);

  /** A call on the connection. */
  @FunctionalInterface
  interface ConnectCall<T> {
    T apply(Connect connect) throws LibvirtException, LibvirtNative.Failure;
  }

  /** A call on one domain, looked up by UUID for the length of the call. */
  @FunctionalInterface
  interface DomainCall<T> {
    T apply(Domain domain) throws LibvirtException, LibvirtNative.Failure;
  }

  private final String uri;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private Connect connect; // guarded by lock
  private LibvirtNative natives; // guarded by lock
  private boolean closed; // guarded by lock

  /**
   * Opens the connection.
   *
   * @throws HypervisorException if libvirt refuses it
   */
  LibvirtConnection(String uri) {
    this.uri = uri;
    this.connect = open(uri);
    try {
      this.natives = openNatives(uri);
    } catch (HypervisorException e) {
      closeQuietly(connect);
      throw e;
    }
  }

  /**
   * The native bindings on their own connection; use them only inside {@link #call} or
   * {@link #onDomain}, which hold the connection open.
   */
  LibvirtNative natives() {
    return natives;
  }

  String uri() {
    return uri;
  }

  /**
   * Runs {@code call} on the connection; libvirt errors become {@link HypervisorException}s
   * whose message starts with {@code what}.
   */
  <T> T call(String what, ConnectCall<T> call) {
    reconnectIfDead();
    lock.readLock().lock();
    try {
      if (closed) {
        throw new HypervisorException(Kind.FAILED, what + ": connection to " + uri + " is closed",
            null);
      }
      return call.apply(connect);
    } catch (LibvirtException e) {
      throw LibvirtErrors.map(what, e);
    } catch (LibvirtNative.Failure e) {
      throw LibvirtErrors.map(what, e);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Runs {@code call} on the domain with this UUID, freeing the domain handle afterwards. */
  <T> T onDomain(String uuid, String what, DomainCall<T> call) {
    return call(what + " of domain " + uuid, c -> {
      Domain domain = c.domainLookupByUUIDString(uuid);
      try {
        return call.apply(domain);
      } finally {
        free(domain);
      }
    });
  }

  /** Frees a libvirt-java domain handle now instead of in its finalizer. */
  static void free(Domain domain) {
    try {
      domain.free();
    } catch (LibvirtException e) {
      LOG.debug("cannot free a domain handle: {}", e.getMessage());
    }
  }

  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        closeQuietly(connect);
        natives.close();
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  private void reconnectIfDead() {
    lock.readLock().lock();
    try {
      if (closed || (isAlive(connect) && natives.alive())) {
        return;
      }
    } finally {
      lock.readLock().unlock();
    }
    lock.writeLock().lock();
    try {
      if (!closed && !(isAlive(connect) && natives.alive())) {
        LOG.warn("connection to {} is dead; reconnecting", uri);
        closeQuietly(connect);
        natives.close();
        Connect fresh = open(uri);
        try {
          natives = openNatives(uri);
        } catch (HypervisorException e) {
          closeQuietly(fresh);
          throw e;  // both stay closed (isAlive false): the next call tries again
        }
        connect = fresh;
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  private static boolean isAlive(Connect connect) {
    try {
      return connect.isAlive();
    } catch (LibvirtException e) {
      return false;
    }
  }

  private static Connect open(String uri) {
    try {
      long startedAt = System.nanoTime();
      Connect connect = new Connect(uri);
      LOG.info("connected to {} in {} ms", uri, (System.nanoTime() - startedAt) / 1_000_000);
      return connect;
    } catch (LibvirtException e) {
      throw LibvirtErrors.map("connect to " + uri, e);
    }
  }

  private static LibvirtNative openNatives(String uri) {
    try {
      return LibvirtNative.open(uri);
    } catch (LibvirtNative.Failure e) {
      throw LibvirtErrors.map("connect to " + uri, e);
    }
  }

  private void closeQuietly(Connect connect) {
    try {
      connect.close();
    } catch (LibvirtException e) {
      LOG.debug("closing the connection to {} failed: {}", uri, e.getMessage());
    }
  }
}
