package io.stratus.agent.tasks;

import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.proto.agent.v1.PowerState;
import java.time.Duration;

/** Power state mapping and bounded polling. */
final class PowerStates {
  private PowerStates() {}

  static PowerState proto(Hypervisor.Power p) {
    return PowerState.valueOf("POWER_STATE_" + p.name());
  }

  static Hypervisor.Power current(Hypervisor hv, String uuid) {
    return hv.find(uuid).map(Hypervisor.DomainInfo::power).orElse(Hypervisor.Power.NOSTATE);
  }

  /** Polls until the domain is in {@code wanted}; FAILED after {@code timeout}. */
  static void await(Hypervisor hv, String uuid, Hypervisor.Power wanted, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long sleep = 10;
    while (current(hv, uuid) != wanted) {
      if (System.nanoTime() > deadline) {
        throw new HypervisorException(HypervisorException.Kind.FAILED, "domain " + uuid
            + " did not reach " + wanted + " within " + timeout.toSeconds() + " s (it is "
            + current(hv, uuid) + ")", null);
      }
      Thread.sleep(sleep);
      sleep = Math.min(200, sleep * 2);
    }
  }
}
