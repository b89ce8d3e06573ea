package io.stratus.agent.hypervisor.libvirt;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.PointerType;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import java.lang.ref.Reference;
import java.lang.reflect.Field;
import java.util.Optional;
import org.libvirt.Domain;

/**
 * JNA bindings for the libvirt calls libvirt-java 0.5.4 lacks ({@code virDomainGetState}) or
 * binds without the return code we need ({@code virDomainGetBlockJobInfo} returns 0 when there
 * is no job, which libvirt-java hides). This is the only place that reaches into libvirt-java's
 * package-private {@code Domain.vdp} for the native domain pointer.
 */
final class LibvirtNative {

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
  private static final Field DOMAIN_POINTER = domainPointerField();
  /** Strongly held: libvirt keeps only the function pointer. */
  private static final ErrorFunc IGNORE_ERRORS = (userData, error) -> { };

  static {
    // Without a handler libvirt prints every error to stderr ("libvirt: ... error : ..."),
    // including the expected ones; they reach callers as exceptions instead.
    VIRT.virSetErrorFunc(null, IGNORE_ERRORS);
  }

  private LibvirtNative() {}

  /** Loads the bindings (and silences libvirt's stderr error printing); idempotent. */
  static void init() {
    // The static initialiser does the work.
  }

  /** {@code virDomainGetState(domain, &state, &reason, 0)}. */
  static State state(Domain domain) throws Failure {
    IntByReference state = new IntByReference();
    IntByReference reason = new IntByReference();
    try {
      check(VIRT.virDomainGetState(pointer(domain), state, reason, 0));
    } finally {
      Reference.reachabilityFence(domain);
    }
    return new State(state.getValue(), reason.getValue());
  }

  /** The block job on {@code disk}, or empty if there is none. */
  static Optional<BlockJob> blockJob(Domain domain, String disk) throws Failure {
    BlockJobInfo info = new BlockJobInfo();
    int rc;
    try {
      rc = check(VIRT.virDomainGetBlockJobInfo(pointer(domain), disk, info, 0));
    } finally {
      Reference.reachabilityFence(domain);
    }
    return rc == 0 ? Optional.empty() : Optional.of(new BlockJob(info.type, info.cur, info.end));
  }

  /**
   * Freezes every guest filesystem through the qemu guest agent, waiting at most
   * {@code timeoutSeconds} for its answer (libvirt's default is to wait forever, and a
   * hung agent then also holds the domain's job lock); returns how many were frozen.
   */
  static int freezeFilesystems(Domain domain, int timeoutSeconds) throws Failure {
    try {
      check(VIRT.virDomainAgentSetResponseTimeout(pointer(domain), timeoutSeconds, 0));
      return check(VIRT.virDomainFSFreeze(pointer(domain), null, 0, 0));
    } finally {
      Reference.reachabilityFence(domain);
    }
  }

  /** Thaws every guest filesystem; safe to repeat (0 when nothing was frozen). */
  static int thawFilesystems(Domain domain, int timeoutSeconds) throws Failure {
    try {
      check(VIRT.virDomainAgentSetResponseTimeout(pointer(domain), timeoutSeconds, 0));
      return check(VIRT.virDomainFSThaw(pointer(domain), null, 0, 0));
    } finally {
      Reference.reachabilityFence(domain);
    }
  }

  private static int check(int rc) throws Failure {
    if (rc < 0) {
      throw new Failure(VIRT.virGetLastErrorCode(), VIRT.virGetLastErrorMessage());
    }
    return rc;
  }

  private static Pointer pointer(Domain domain) {
    try {
      PointerType vdp = (PointerType) DOMAIN_POINTER.get(domain);
      if (vdp == null) {
        throw new IllegalStateException("libvirt-java Domain was already freed");
      }
      return vdp.getPointer();
    } catch (IllegalAccessException e) {
      throw new IllegalStateException("cannot read libvirt-java's Domain.vdp", e);
    }
  }

  private static Field domainPointerField() {
    try {
      Field field = Domain.class.getDeclaredField("vdp");
      field.setAccessible(true);
      return field;
    } catch (NoSuchFieldException | RuntimeException e) {
      throw new ExceptionInInitializerError(
          "libvirt-java's Domain has no accessible 'vdp' field (version changed?): " + e);
    }
  }
}
