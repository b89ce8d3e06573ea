package io.stratus.agent.tasks;

import io.grpc.Channel;
import io.stratus.agent.AgentConfig;
import io.stratus.agent.disk.SnapshotStreamer;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.images.ImageCache;
import io.stratus.agent.rbd.RbdDisks;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.RootDiskKind;
import io.stratus.proto.agent.v1.Volume;
import io.stratus.support.errors.ApiException;
import java.nio.file.Path;
import java.util.concurrent.Semaphore;

/**
 * What the tasks of one host share: config, hypervisor, image cache, streamer, limits, the
 * image-gateway channel, and the Ceph pool of RBD root disks ({@code null} when this host
 * has no Ceph configured).
 */
public record AgentEnv(
    AgentConfig config,
    Hypervisor hypervisor,
    ImageCache images,
    SnapshotStreamer streamer,
    Semaphore snapshotSlots,
    Channel gateway,
    RbdDisks rbd) {

  /** The file name of an instance's console log in its directory. */
  public static final String CONSOLE_LOG = "console.log";

  /** Runs {@code work} in one of the host's snapshot slots, waiting for a free one. */
  public <T> T inSnapshotSlot(java.util.concurrent.Callable<T> work) throws Exception {
    snapshotSlots.acquire();
    try {
      return work.call();
    } finally {
      snapshotSlots.release();
    }
  }

  /** The instance's directory: DIR/UUID. */
  public Path instanceDir(String uuid) {
    return config.instancesDir().resolve(uuid);
  }

  /**
   * What the instance's serial console printed, appended across power cycles (libvirt's
   * virtlogd writes it and rotates it at 2 MiB); removed with the instance's directory.
   */
  public Path consoleLog(String uuid) {
    return instanceDir(uuid).resolve(CONSOLE_LOG);
  }

  /** The instance's root disk: a qcow2 overlay on its cached base image. */
  public Path rootDisk(String uuid) {
    return instanceDir(uuid).resolve("disk");
  }

  /** Whether the instance's root disk is an RBD image. */
  public static boolean onRbd(InstanceSpec i) {
    return i.getRootDiskKind() == RootDiskKind.ROOT_DISK_KIND_RBD;
  }

  /** The RBD disks of this host; FAILED_PRECONDITION when it has no Ceph configured. */
  public RbdDisks rbdDisks() {
    if (rbd == null) {
      throw ApiException.failedPrecondition("host " + config.host()
          + " has no Ceph configured (ceph.conf): it cannot run instances with rbd root disks");
    }
    return rbd;
  }

  /** Whether the instance is volume-backed (its disks are volumes the conductor tracks). */
  public static boolean volumeBacked(InstanceSpec i) {
    return i.getVolumesCount() > 0;
  }

  /**
   * The hypervisor's domain spec for an instance record: its volumes (boot volume first),
   * or its RBD or local root disk; the guest agent channel when the guest has one.
   */
  public Hypervisor.DomainSpec domainSpec(InstanceSpec i) {
    java.util.List<Hypervisor.Disk> disks = new java.util.ArrayList<>();
    if (volumeBacked(i)) {
      i.getVolumesList().stream()
          .sorted(java.util.Comparator.comparing((Volume v) -> v.getBootIndex() != 0)
              .thenComparing(Volume::getDevice))
          .forEach(v -> disks.add(new Hypervisor.Disk(v.getDevice(),
              new Hypervisor.RbdDisk(v.getPool(), v.getImage(), rbdDisks().conf()))));
    } else if (onRbd(i)) {
      disks.add(new Hypervisor.Disk("vda", new Hypervisor.RbdDisk(rbdDisks().pool(),
          RbdDisks.diskName(i.getUuid()), rbdDisks().conf())));
    } else {
      disks.add(new Hypervisor.Disk("vda", new Hypervisor.FileDisk(rootDisk(i.getUuid()), "qcow2")));
    }
    return new Hypervisor.DomainSpec(i.getUuid(), "instance-" + i.getUuid(), i.getVcpus(),
        i.getMemoryMb(), disks, i.getGuestAgent(), consoleLog(i.getUuid()));
  }
}
