package io.stratus.agent.hypervisor.libvirt;

import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.agent.hypervisor.HypervisorException.Kind;
import org.libvirt.Error;
import org.libvirt.LibvirtException;

/**
 * Turns libvirt errors into {@link HypervisorException}s: a missing domain is
 * {@link Kind#NO_DOMAIN}, a call the driver cannot do is {@link Kind#UNSUPPORTED}, everything
 * else {@link Kind#FAILED}. The message keeps libvirt's own text.
 */
final class LibvirtErrors {

  // virErrorNumber values (libvirt-java's ErrorNumber ordinals match them).
  static final int NO_SUPPORT = 3;
  static final int INVALID_ARG = 8;
  static final int NO_DOMAIN = 42;
  static final int OPERATION_INVALID = 55;
  static final int CONFIG_UNSUPPORTED = 67;
  static final int ARGUMENT_UNSUPPORTED = 74;
  static final int OPERATION_UNSUPPORTED = 84;
  /** {@code VIR_ERR_AGENT_UNRESPONSIVE}: not connected, or no answer within the timeout. */
  static final int AGENT_UNRESPONSIVE = 86;

  private LibvirtErrors() {}

  /** The exception for a failed libvirt-java call; {@code what} names the call and domain. */
  static HypervisorException map(String what, LibvirtException e) {
    return map(what, code(e), message(e), e);
  }

  /** The exception for a failed native call; {@code what} names the call and domain. */
  static HypervisorException map(String what, LibvirtNative.Failure e) {
    return map(what, e.code(), e.getMessage(), e);
  }

  /** libvirt's error code of {@code e}, or -1 if it carries none. */
  static int code(LibvirtException e) {
    Error error = e.getError();
    return error == null || error.getCode() == null ? -1 : error.getCode().ordinal();
  }

  private static HypervisorException map(String what, int code, String message, Throwable e) {
    return new HypervisorException(kind(code, message), what + ": " + message, e);
  }

  private static Kind kind(int code, String message) {
    return switch (code) {
      case NO_DOMAIN -> Kind.NO_DOMAIN;
      case NO_SUPPORT, CONFIG_UNSUPPORTED, ARGUMENT_UNSUPPORTED, OPERATION_UNSUPPORTED ->
          Kind.UNSUPPORTED;
      // A driver rejects flags it does not implement (test:///default and DISK_ONLY
      // snapshots) with "unsupported flags (0x..) in function ...".
      case INVALID_ARG -> message != null && message.contains("unsupported flags")
          ? Kind.UNSUPPORTED : Kind.FAILED;
      // No guest agent running in the guest (its channel exists but nobody opened it).
      case AGENT_UNRESPONSIVE -> message != null && message.contains("not connected")
          ? Kind.UNSUPPORTED : Kind.FAILED;
      default -> Kind.FAILED;
    };
  }

  private static String message(LibvirtException e) {
    Error error = e.getError();
    String message = error == null ? null : error.getMessage();
    return message != null ? message : String.valueOf(e.getMessage());
  }
}
