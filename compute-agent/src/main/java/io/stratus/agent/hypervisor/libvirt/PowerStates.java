package io.stratus.agent.hypervisor.libvirt;

import io.stratus.agent.hypervisor.Hypervisor.Power;

/** Nova's mapping of libvirt's {@code virDomainState} to power states. */
final class PowerStates {
  private PowerStates() {}

  /**
   * The power state for a {@code virDomainState} value. A shut-off domain with a managed-save
   * image is {@link Power#SHUTDOWN} too; callers report the image separately.
   */
  static Power of(int libvirtState) {
    return switch (libvirtState) {
      case LibvirtNative.STATE_RUNNING, LibvirtNative.STATE_BLOCKED -> Power.RUNNING;
      case LibvirtNative.STATE_PAUSED -> Power.PAUSED;
      case LibvirtNative.STATE_SHUTDOWN, LibvirtNative.STATE_SHUTOFF -> Power.SHUTDOWN;
      case LibvirtNative.STATE_CRASHED -> Power.CRASHED;
      case LibvirtNative.STATE_PMSUSPENDED -> Power.SUSPENDED;
      default -> Power.NOSTATE;
    };
  }
}
