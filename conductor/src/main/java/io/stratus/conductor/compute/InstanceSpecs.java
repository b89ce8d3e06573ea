package io.stratus.conductor.compute;

import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.InstanceEntity;
import io.stratus.conductor.db.VolumeStore;
import io.stratus.conductor.domain.RootDiskKind;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.Volume;
import org.hibernate.Session;

/**
 * The agent-side description of an instance ({@code agent.v1.InstanceSpec}): the record,
 * its volumes with where each comes from (so Spawn can create missing ones), and whether
 * the guest has a qemu guest agent. The agent keeps no database: every task carries it.
 */
public final class InstanceSpecs {
  private final Database db;
  private final VolumeStore volumes = new VolumeStore();

  public InstanceSpecs(Database db) {
    this.db = db;
  }

  /** The spec of {@code i}, reading its volumes. */
  public InstanceSpec of(InstanceEntity i) {
    return db.inTransaction(s -> of(s, i));
  }

  /** The spec of {@code i}, reading its volumes in {@code session}. */
  public InstanceSpec of(Session session, InstanceEntity i) {
    InstanceSpec.Builder b = InstanceSpec.newBuilder()
        .setUuid(i.uuid().toString())
        .setName(i.name())
        .setVcpus(i.vcpus())
        .setMemoryMb(i.memoryMb())
        .setRootGb(i.rootGb())
        .setImageRef(i.imageRef())
        .setRootDiskKind(i.rootDiskKind() == RootDiskKind.RBD
            ? io.stratus.proto.agent.v1.RootDiskKind.ROOT_DISK_KIND_RBD
            : io.stratus.proto.agent.v1.RootDiskKind.ROOT_DISK_KIND_LOCAL)
        .setGuestAgent(i.guestAgent())
        .putAllMetadata(i.metadata());
    for (VolumeStore.Attached v : volumes.attached(session, i.uuid())) {
      b.addVolumes(volume(v));
    }
    return b.build();
  }

  private static Volume volume(VolumeStore.Attached v) {
    Volume.Builder b = Volume.newBuilder()
        .setId(v.id().toString())
        .setPool(v.pool())
        .setImage(v.rbdImage())
        .setDevice(v.device())
        .setBootIndex(v.bootIndex())
        .setSizeBytes(v.sizeBytes())
        .setDeleteOnTermination(v.deleteOnTermination());
    switch (v.sourceType()) {
      case "image" -> b.setSourceImage(v.sourceId());
      case "snapshot" -> {
        if (v.sourceSnapshot() != null) {
          b.setSourceSnapshot(v.sourceSnapshot());
        }
      }
      default -> { /* blank */ }
    }
    return b.build();
  }
}
