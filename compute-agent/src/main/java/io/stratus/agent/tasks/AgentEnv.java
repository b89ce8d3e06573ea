package io.stratus.agent.tasks;

import io.stratus.agent.AgentConfig;
import io.stratus.agent.disk.SnapshotStreamer;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.images.ImageCache;
import io.stratus.proto.agent.v1.InstanceSpec;
import java.nio.file.Path;
import java.util.concurrent.Semaphore;

/** What the tasks of one host share: config, hypervisor, image cache, streamer, limits. */
public record AgentEnv(
    AgentConfig config,
    Hypervisor hypervisor,
    ImageCache images,
    SnapshotStreamer streamer,
    Semaphore snapshotSlots) {

  /** The instance's directory: DIR/UUID. */
  public Path instanceDir(String uuid) {
    return config.instancesDir().resolve(uuid);
  }

  /** The instance's root disk: a qcow2 overlay on its cached base image. */
  public Path rootDisk(String uuid) {
    return instanceDir(uuid).resolve("disk");
  }

  /** The hypervisor's domain spec for an instance record. */
  public Hypervisor.DomainSpec domainSpec(InstanceSpec i) {
    return new Hypervisor.DomainSpec(i.getUuid(), "instance-" + i.getUuid(), i.getVcpus(),
        i.getMemoryMb(), rootDisk(i.getUuid()), "qcow2");
  }
}
