package io.stratus.agent.tasks;

import io.stratus.agent.disk.QemuImg;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.ops.Task;
import io.stratus.agent.ops.TaskContext;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.agent.v1.TaskResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Boots a new instance: the root disk — a qcow2 overlay on the base image in the host
 * cache (checksum verified), or an RBD image ({@link RbdRootDisk}) — sized root_gb or the
 * image's own, then define, start, RUNNING.
 */
public final class SpawnTask implements Task {
  private final AgentEnv env;
  private final InstanceSpec spec;

  public SpawnTask(AgentEnv env, InstanceSpec spec) {
    this.env = env;
    this.spec = spec;
  }

  @Override
  public TaskResult run(TaskContext ctx) throws Exception {
    String disk = AgentEnv.volumeBacked(spec) ? VolumeDisks.ensure(env, spec)
        : AgentEnv.onRbd(spec) ? RbdRootDisk.ensure(env, spec) : localDisk();
    ctx.checkCancelled();
    env.hypervisor().define(env.domainSpec(spec));
    env.hypervisor().start(spec.getUuid());
    PowerStates.await(env.hypervisor(), spec.getUuid(), Hypervisor.Power.RUNNING,
        env.config().powerOnTimeout());
    return TaskResult.newBuilder().setPowerState(PowerState.POWER_STATE_RUNNING)
        .setDetails("booted from " + spec.getImageRef() + " (" + disk + ")").build();
  }

  /** The qcow2 overlay on the cached base image. */
  private String localDisk() throws IOException {
    Path base = env.images().fetch(spec.getImageRef());
    Path disk = env.rootDisk(spec.getUuid());
    Files.createDirectories(disk.getParent());
    if (!Files.exists(disk)) {
      long size = Math.max((long) spec.getRootGb() << 30, Files.size(base));
      QemuImg.createOverlay(disk, base, "raw", size);
    }
    return "qcow2 overlay";
  }
}
