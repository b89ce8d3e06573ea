package io.stratus.agent.tasks;

import io.stratus.agent.ops.Task;
import io.stratus.agent.ops.TaskContext;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.agent.v1.TaskResult;

/** Powers on the Nova way: a hard reboot that rebuilds the domain from the record. */
public final class PowerOnTask implements Task {
  private final AgentEnv env;
  private final InstanceSpec spec;

  public PowerOnTask(AgentEnv env, InstanceSpec spec) {
    this.env = env;
    this.spec = spec;
  }

  @Override
  public TaskResult run(TaskContext ctx) throws Exception {
    DomainRebuild.tearDown(env, spec.getUuid());
    ctx.checkCancelled();
    DomainRebuild.bringUp(env, spec);
    return TaskResult.newBuilder().setPowerState(PowerState.POWER_STATE_RUNNING).build();
  }
}
