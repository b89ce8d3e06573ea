package io.stratus.agent.hypervisor.libvirt;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import java.util.Optional;
import org.libvirt.Domain;

/**
 * JNA bindings for the libvirt calls libvirt-java 0.5.4 lacks ({@code virDomainGetState}) or
 * binds without the return code we need ({@code virDomainGetBlockJobInfo} returns 0 when there
 * is no job, which libvirt-java hides). They run on a libvirt connection of their own, opened
 * through the public C API ({@code virConnectOpen}) next to libvirt-java's: a domain is
 * looked up by its UUID there for each call, so nothing reaches into libvirt-java's
 * internals. Both connections see the same domains (libvirtd's, or the one state the test
 * driver shares among the connections of a process to {@code test:///default}).
 *
 * <p>Thread-safe (libvirt connections are); {@link LibvirtConnection} closes and reopens it
 * with its own.
 */
final class LibvirtNative implements AutoCloseable {

  /** {@code virDomainState} values. */
  static final int STATE_NOSTATE = 0;
  static final int STATE_RUNNING = 1;
  static final int STATE_BLOCKED = 2;
  static final int STATE_PAUSED = 3;
  static final int STATE_SHUTDOWN = 4;
  static final int STATE_SHUTOFF = 5;
  static final int STATE_CRASHED = 6;
  static final int STATE_PMSUSPENDED = 7;

  /** The functions bound from {@code libvirt.so.0}. */
  interface Virt extends Library {
    Pointer virConnectOpen(String uri);

    int virConnectClose(Pointer conn);

    int virConnectIsAlive(Pointer conn);

    Pointer virDomainLookupByUUIDString(Pointer conn, String uuid);

    int virDomainFree(Pointer domain);

    int virDomainGetState(Pointer domain, IntByReference state, IntByReference reason, int flags);

    int virDomainGetBlockJobInfo(Pointer domain, String disk, BlockJobInfo info, int flags);

    int virDomainFSFreeze(Pointer domain, Pointer mountpoints, int nmountpoints, int flags);

    int virDomainFSThaw(Pointer domain, Pointer mountpoints, int nmountpoints, int flags);

    int virDomainAgentSetResponseTimeout(Pointer domain, int timeout, int flags);

    int virGetLastErrorCode();

    String virGetLastErrorMessage();

    void virSetErrorFunc(Pointer userData, ErrorFunc handler);
  }

  /** {@code virErrorFunc}: called for every error libvirt reports. */
  interface ErrorFunc extends Callback {
    void invoke(Pointer userData, Pointer error);
  }

  /** {@code virDomainBlockJobInfo}. */
  @Structure.FieldOrder({"type", "bandwidth", "cur", "end"})
  public static final class BlockJobInfo extends Structure {
    public int type;
    public NativeLong bandwidth;
    public long cur;
    public long end;
  }

  /** A domain's state and the reason for it, as {@code virDomainGetState} reports them. */
  record State(int state, int reason) {}

  /**
   * A block job in progress: libvirt reports {@code cur == end} only once the job is ready
   * (for an active commit: the overlay is drained and a pivot is possible).
   */
  record BlockJob(int type, long cur, long end) {
    boolean ready() {
      return cur == end;
    }
  }

  /** A native call failed; carries libvirt's error code and message. */
  static final class Failure extends Exception {
    private static final long serialVersionUID = 1L;
    private final int code;

    Failure(int code, String message) {
      super(message);
      this.code = code;
    }

    int code() {
      return code;
    }
  }

  private static final Virt VIRT = Native.load("virt", Virt.class);
  /** Strongly held: libvirt keeps only the function pointer. */
  private static final ErrorFunc IGNORE_ERRORS = (userData, error) -> { };

  static {
    // Without a handler libvirt prints every error to stderr ("libvirt: ... error : ..."),
    // including the expected ones; they reach callers as exceptions instead.
    VIRT.virSetErrorFunc(null, IGNORE_ERRORS);
  }

  private final String uri;
  private final Pointer conn;
  private boolean closed; // guarded by this

  private LibvirtNative(String uri, Pointer conn) {
    this.uri = uri;
    this.conn = conn;
  }

  /** Opens the bindings' own connection to {@code uri}. */
  static LibvirtNative open(String uri) throws Failure {
    Pointer conn = VIRT.virConnectOpen(uri);
    if (conn == null) {
      throw new Failure(VIRT.virGetLastErrorCode(), "virConnectOpen(" + uri + "): "
          + VIRT.virGetLastErrorMessage());
    }
    return new LibvirtNative(uri, conn);
  }

  /** Whether the connection is open and still works (libvirtd has not gone away). */
  synchronized boolean alive() {
    return !closed && VIRT.virConnectIsAlive(conn) == 1;
  }

  /** Closes the connection; idempotent (the pointer is never used after). */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      VIRT.virConnectClose(conn);
    }
  }

  /** A native call on one domain. */
  @FunctionalInterface
  private interface OnDomain<T> {
    T apply(Pointer domain) throws Failure;
  }

  /** Runs {@code call} on the domain of {@code domain}'s UUID, looked up on this connection. */
  private <T> T withDomain(Domain domain, OnDomain<T> call) throws Failure {
    String uuid;
    try {
      uuid = domain.getUUIDString();
    } catch (org.libvirt.LibvirtException e) {
      throw new Failure(LibvirtErrors.code(e), e.getMessage());
    }
    Pointer d;
    synchronized (this) {
      if (closed) {
        throw new Failure(-1, "the native libvirt connection to " + uri + " is closed");
      }
      d = VIRT.virDomainLookupByUUIDString(conn, uuid);
    }
    if (d == null) {
      throw new Failure(VIRT.virGetLastErrorCode(), VIRT.virGetLastErrorMessage());
    }
    try {
      return call.apply(d);
    } finally {
      VIRT.virDomainFree(d);
    }
  }

  /** {@code virDomainGetState(domain, &state, &reason, 0)}. */
  State state(Domain domain) throws Failure {
    IntByReference state = new IntByReference();
    IntByReference reason = new IntByReference();
    withDomain(domain, d -> check(VIRT.virDomainGetState(d, state, reason, 0)));
    return new State(state.getValue(), reason.getValue());
  }

  /** The block job on {@code disk}, or empty if there is none. */
  Optional<BlockJob> blockJob(Domain domain, String disk) throws Failure {
    BlockJobInfo info = new BlockJobInfo();
    int rc = withDomain(domain, d -> check(VIRT.virDomainGetBlockJobInfo(d, disk, info, 0)));
    return rc == 0 ? Optional.empty() : Optional.of(new BlockJob(info.type, info.cur, info.end));
  }

  /**
   * Freezes every guest filesystem through the qemu guest agent, waiting at most
   * {@code timeoutSeconds} for its answer (libvirt's default is to wait forever, and a
   * hung agent then also holds the domain's job lock); returns how many were frozen.
   */
  int freezeFilesystems(Domain domain, int timeoutSeconds) throws Failure {
    return withDomain(domain, d -> {
      check(VIRT.virDomainAgentSetResponseTimeout(d, timeoutSeconds, 0));
      return check(VIRT.virDomainFSFreeze(d, null, 0, 0));
    });
  }

  /** Thaws every guest filesystem; safe to repeat (0 when nothing was frozen). */
  int thawFilesystems(Domain domain, int timeoutSeconds) throws Failure {
    return withDomain(domain, d -> {
      check(VIRT.virDomainAgentSetResponseTimeout(d, timeoutSeconds, 0));
      return check(VIRT.virDomainFSThaw(d, null, 0, 0));
    });
  }

  private static int check(int rc) throws Failure {
    if (rc < 0) {
      throw new Failure(VIRT.virGetLastErrorCode(), VIRT.virGetLastErrorMessage());
    }
    return rc;
  }

  @Override
  public String toString() {
    return "LibvirtNative[" + uri + "]";
  }
}
