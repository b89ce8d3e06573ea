package io.stratus.agent.tasks;

import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.ops.Task;
import io.stratus.agent.ops.TaskContext;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskState;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Soft reboot, as Nova's libvirt driver does it: rebooting → reboot_pending (the guest is
 * asked to shut down by ACPI, the request re-sent every retry interval, since a booting
 * guest misses it) → reboot_started (the domain started again, rebuilt from the record as
 * a power-on is) → RUNNING. A guest still running after the timeout, or one that was not
 * running, is hard-rebooted instead (Nova's fallback), in reboot_started; the task says
 * which in its step's message and the log.
 */
public final class SoftRebootTask implements Task {
  private static final Logger LOG = LoggerFactory.getLogger(SoftRebootTask.class);
  /** Nova's wait_soft_reboot_seconds. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(120);

  private final AgentEnv env;
  private final InstanceSpec spec;
  private final Duration timeout;

  /** @param timeoutSeconds how long the guest has to shut down; 0: {@link #DEFAULT_TIMEOUT} */
  public SoftRebootTask(AgentEnv env, InstanceSpec spec, int timeoutSeconds) {
    this.env = env;
    this.spec = spec;
    this.timeout = timeoutSeconds <= 0 ? DEFAULT_TIMEOUT : Duration.ofSeconds(timeoutSeconds);
  }

  @Override
  public TaskResult run(TaskContext ctx) throws Exception {
    Hypervisor hv = env.hypervisor();
    String uuid = spec.getUuid();
    ctx.transition(TaskState.TASK_STATE_REBOOTING, TaskState.TASK_STATE_REBOOT_PENDING,
        "asking the guest to shut down");
    boolean wasRunning = PowerStates.current(hv, uuid) == Hypervisor.Power.RUNNING;
    boolean clean = wasRunning && CleanShutdown.await(env, uuid, timeout, ctx);
    if (clean) {
      ctx.transition(TaskState.TASK_STATE_REBOOT_PENDING, TaskState.TASK_STATE_REBOOT_STARTED,
          "the guest shut down; starting it again");
    } else {
      String why = wasRunning ? "the guest did not shut down within " + timeout.toSeconds()
          + " s" : "the guest was not running";
      LOG.info("soft reboot falls back to a hard reboot; instance={} reason={}", uuid, why);
      ctx.transition(TaskState.TASK_STATE_REBOOT_PENDING, TaskState.TASK_STATE_REBOOT_STARTED,
          why + "; hard reboot");
    }
    DomainRebuild.tearDown(env, uuid);
    ctx.checkCancelled();
    DomainRebuild.bringUp(env, spec);
    return TaskResult.newBuilder().setPowerState(PowerState.POWER_STATE_RUNNING)
        .setDetails(clean ? "soft reboot" : "soft reboot fell back to a hard reboot").build();
  }
}
