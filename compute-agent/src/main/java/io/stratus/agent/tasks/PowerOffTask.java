package io.stratus.agent.tasks;

import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.ops.Task;
import io.stratus.agent.ops.TaskContext;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.TaskResult;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Clean shutdown with a timeout, the request re-sent every retry interval (guests miss
 * ACPI events while booting), then power off; SHUTDOWN at the end either way.
 */
public final class PowerOffTask implements Task {
  private static final Logger LOG = LoggerFactory.getLogger(PowerOffTask.class);

  private final AgentEnv env;
  private final InstanceSpec spec;
  private final Duration cleanTimeout;

  public PowerOffTask(AgentEnv env, InstanceSpec spec, int cleanTimeoutSeconds) {
    this.env = env;
    this.spec = spec;
    this.cleanTimeout = Duration.ofSeconds(cleanTimeoutSeconds);
  }

  @Override
  public TaskResult run(TaskContext ctx) throws Exception {
    Hypervisor hv = env.hypervisor();
    String uuid = spec.getUuid();
    CleanShutdown.await(env, uuid, cleanTimeout, ctx);
    if (PowerStates.current(hv, uuid) != Hypervisor.Power.SHUTDOWN
        && PowerStates.current(hv, uuid) != Hypervisor.Power.NOSTATE) {
      LOG.info("clean shutdown did not finish, powering off; instance={} timeout={}",
          uuid, cleanTimeout);
      hv.destroy(uuid);
    }
    return TaskResult.newBuilder()
        .setPowerState(PowerStates.proto(PowerStates.current(hv, uuid) == Hypervisor.Power.NOSTATE
            ? Hypervisor.Power.NOSTATE : Hypervisor.Power.SHUTDOWN))
        .build();
  }
}
