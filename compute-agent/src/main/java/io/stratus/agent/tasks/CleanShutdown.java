package io.stratus.agent.tasks;

import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.ops.TaskContext;
import java.time.Duration;

/**
 * Asks a running guest to shut down (ACPI) and waits for it, re-sending the request every
 * retry interval (a booting guest misses it), for at most a timeout: the clean half of a
 * stop and of a soft reboot.
 */
final class CleanShutdown {
  private CleanShutdown() {}

  /** Whether the guest is no longer running when this returns (at the latest at timeout). */
  static boolean await(AgentEnv env, String uuid, Duration timeout, TaskContext ctx)
      throws InterruptedException {
    Hypervisor hv = env.hypervisor();
    long deadline = System.nanoTime() + timeout.toNanos();
    long nextRequest = 0;
    while (PowerStates.current(hv, uuid) == Hypervisor.Power.RUNNING
        && System.nanoTime() < deadline) {
      ctx.checkCancelled();
      if (System.nanoTime() >= nextRequest) {
        hv.shutdown(uuid);
        nextRequest = System.nanoTime() + env.config().shutdownRetry().toNanos();
      }
      Thread.sleep(100);
    }
    return PowerStates.current(hv, uuid) != Hypervisor.Power.RUNNING;
  }
}
