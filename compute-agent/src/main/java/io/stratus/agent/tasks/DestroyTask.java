package io.stratus.agent.tasks;

import io.stratus.agent.ops.Task;
import io.stratus.agent.ops.TaskContext;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.agent.v1.TaskResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Destroys and undefines the domain and removes the instance's files. Idempotent. */
public final class DestroyTask implements Task {
  private final AgentEnv env;
  private final InstanceSpec spec;

  public DestroyTask(AgentEnv env, InstanceSpec spec) {
    this.env = env;
    this.spec = spec;
  }

  @Override
  public TaskResult run(TaskContext ctx) throws IOException {
    DomainRebuild.tearDown(env, spec.getUuid());
    String kept = "";
    if (AgentEnv.volumeBacked(spec)) {
      var volumes = VolumeDisks.removeOnTermination(env, spec);
      kept = volumes.isEmpty() ? "" : "; volumes kept for their snapshots: " + volumes;
    } else if (AgentEnv.onRbd(spec)) {
      env.rbdDisks().remove(spec.getUuid());
    }
    Path dir = env.instanceDir(spec.getUuid());
    if (Files.exists(dir)) {
      try (Stream<Path> files = Files.walk(dir)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
    return TaskResult.newBuilder().setPowerState(PowerState.POWER_STATE_NOSTATE)
        .setDetails("domain and files removed" + kept).build();
  }
}
