package io.stratus.agent.hypervisor;

/** A hypervisor call failed; {@link #kind()} says whether the domain was simply missing. */
public final class HypervisorException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What kind of failure. */
  public enum Kind {
    /** No domain with that UUID. */
    NO_DOMAIN,
    /** The hypervisor does not support the call (e.g. test:///default and disk snapshots). */
    UNSUPPORTED,
    /** Anything else libvirt or qemu reported. */
    FAILED
  }

  private final Kind kind;

  public HypervisorException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
