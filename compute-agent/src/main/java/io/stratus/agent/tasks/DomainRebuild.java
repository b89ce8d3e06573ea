package io.stratus.agent.tasks;

import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.rbd.RbdDisks;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Nova's hard reboot, which is also how it powers on (seed 003): destroy the domain if
 * it runs, undefine it, make sure the disk and its backing file are in place, regenerate
 * the definition from the instance record, define, start, poll until RUNNING (bounded).
 */
final class DomainRebuild {
  private DomainRebuild() {}

  /** Tears the domain down (destroy + undefine); keeps the disk. Nothing to do if absent. */
  static void tearDown(AgentEnv env, String uuid) {
    Hypervisor hv = env.hypervisor();
    var domain = hv.find(uuid);
    if (domain.isEmpty()) {
      return;
    }
    if (domain.get().power() != Hypervisor.Power.SHUTDOWN) {
      hv.destroy(uuid);
    }
    hv.undefine(uuid);
  }

  /** Ensures disk + backing, defines and starts; returns when RUNNING. */
  static void bringUp(AgentEnv env, InstanceSpec spec) throws IOException, InterruptedException {
    if (AgentEnv.volumeBacked(spec)) {
      for (var v : spec.getVolumesList()) {
        if (!env.rbdDisks().volumeExists(v.getPool(), v.getImage())) {
          throw ApiException.notFound("volume " + v.getId() + " of instance " + spec.getUuid()
              + " is missing: " + v.getPool() + "/" + v.getImage());
        }
      }
    } else if (AgentEnv.onRbd(spec)) {
      if (!env.rbdDisks().exists(spec.getUuid())) {
        throw ApiException.notFound("root disk of instance " + spec.getUuid() + " is missing: "
            + env.rbdDisks().pool() + "/" + RbdDisks.diskName(spec.getUuid()));
      }
    } else {
      Path disk = env.rootDisk(spec.getUuid());
      if (!Files.exists(disk)) {
        throw ApiException.notFound("root disk of instance " + spec.getUuid() + " is missing: " + disk);
      }
      // The backing base image may have been evicted from the cache: fetch it again.
      env.images().fetch(spec.getImageRef());
    }
    Hypervisor hv = env.hypervisor();
    hv.define(env.domainSpec(spec));
    hv.start(spec.getUuid());
    PowerStates.await(hv, spec.getUuid(), Hypervisor.Power.RUNNING, env.config().powerOnTimeout());
  }
}
