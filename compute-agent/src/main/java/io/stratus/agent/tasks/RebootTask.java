package io.stratus.agent.tasks;

import io.stratus.agent.ops.Task;
import io.stratus.agent.ops.TaskContext;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskState;

/**
 * Hard reboot: rebooting_hard → reboot_pending_hard (domain torn down) →
 * reboot_started_hard (defined and started) → RUNNING.
 */
public final class RebootTask implements Task {
  private final AgentEnv env;
  private final InstanceSpec spec;

  public RebootTask(AgentEnv env, InstanceSpec spec) {
    this.env = env;
    this.spec = spec;
  }

  @Override
  public TaskResult run(TaskContext ctx) throws Exception {
    ctx.transition(TaskState.TASK_STATE_REBOOTING_HARD, TaskState.TASK_STATE_REBOOT_PENDING_HARD,
        "tearing the domain down");
    DomainRebuild.tearDown(env, spec.getUuid());
    ctx.transition(TaskState.TASK_STATE_REBOOT_PENDING_HARD,
        TaskState.TASK_STATE_REBOOT_STARTED_HARD, "starting the rebuilt domain");
    DomainRebuild.bringUp(env, spec);
    return TaskResult.newBuilder().setPowerState(PowerState.POWER_STATE_RUNNING).build();
  }
}
