package io.stratus.conductor.compute;

import io.stratus.conductor.db.InstanceEntity;
import io.stratus.conductor.db.InstanceFaultEntity;
import io.stratus.conductor.db.VolumeEntity;
import io.stratus.conductor.domain.PowerState;
import io.stratus.conductor.domain.RootDiskKind;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.domain.VmState;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * A server as the application layer hands it to the API adapters: plain values read in one
 * transaction, no live database object. {@code host}, {@code lockedBy} and
 * {@code deletedAt} may be null; {@code taskState} is null when no task runs.
 */
public record ServerView(
    UUID uuid,
    String name,
    String projectId,
    String userId,
    String host,
    VmState vmState,
    TaskState taskState,
    PowerState powerState,
    String imageRef,
    RootDiskKind rootDiskKind,
    int vcpus,
    int memoryMb,
    int rootGb,
    boolean locked,
    String lockedBy,
    Map<String, String> metadata,
    Instant createdAt,
    Instant updatedAt,
    Instant deletedAt,
    long version,
    Optional<Fault> fault,
    List<Volume> volumes) {

  public ServerView {
    metadata = Map.copyOf(metadata);
    volumes = List.copyOf(volumes);
  }

  /** The latest fault of a server; {@code details} may be null. */
  public record Fault(int code, String message, String details, Instant createdAt) {}

  /** A volume attached to a server. */
  public record Volume(UUID id, String device, int bootIndex, long sizeBytes,
      boolean deleteOnTermination) {}

  /** The view of an instance record with its latest fault and its volumes. */
  static ServerView of(InstanceEntity i, Optional<InstanceFaultEntity> fault,
      List<VolumeEntity> volumes) {
    return new ServerView(i.uuid(), i.name(), i.projectId(), i.userId(), i.host(), i.vmState(),
        i.taskState(), i.powerState(), i.imageRef(), i.rootDiskKind(), i.vcpus(), i.memoryMb(),
        i.rootGb(), i.locked(), i.lockedBy(), i.metadata(), i.createdAt(), i.updatedAt(),
        i.deletedAt(), i.version(),
        fault.map(f -> new Fault(f.code(), f.message(), f.details(), f.createdAt())),
        volumes.stream().map(v -> new Volume(v.id(), v.device(), v.bootIndex(), v.sizeBytes(),
            v.deleteOnTermination())).toList());
  }

  /** The view of an instance record alone (no fault, no volumes): its states and host. */
  static ServerView of(InstanceEntity i) {
    return of(i, Optional.empty(), List.of());
  }
}
