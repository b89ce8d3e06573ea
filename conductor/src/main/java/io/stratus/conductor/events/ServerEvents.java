package io.stratus.conductor.events;

import com.google.protobuf.Timestamp;
import io.stratus.conductor.db.InstanceEntity;
import io.stratus.conductor.db.InstanceFaultEntity;
import io.stratus.conductor.domain.PowerState;
import io.stratus.conductor.domain.RootDiskKind;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.domain.VmState;
import io.stratus.proto.conductor.v1.Fault;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.Notification;
import io.stratus.proto.conductor.v1.Progress;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.StateChange;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/** Maps instance records and changes to the public {@code conductor.v1} messages. */
public final class ServerEvents {
  private ServerEvents() {}

  public static Timestamp timestamp(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }

  public static io.stratus.proto.conductor.v1.VmState vmState(VmState s) {
    return io.stratus.proto.conductor.v1.VmState.valueOf("VM_STATE_" + s.name());
  }

  public static io.stratus.proto.conductor.v1.TaskState taskState(TaskState s) {
    return s == null
        ? io.stratus.proto.conductor.v1.TaskState.TASK_STATE_NONE
        : io.stratus.proto.conductor.v1.TaskState.valueOf("TASK_STATE_" + s.name());
  }

  public static io.stratus.proto.conductor.v1.PowerState powerState(PowerState s) {
    return io.stratus.proto.conductor.v1.PowerState.valueOf("POWER_STATE_" + s.name());
  }

  /** The public view of an instance, with its latest fault if any. */
  public static Server server(InstanceEntity i, Optional<InstanceFaultEntity> fault) {
    Server.Builder b =
        Server.newBuilder()
            .setId(i.uuid().toString())
            .setName(i.name())
            .setProjectId(i.projectId())
            .setUserId(i.userId())
            .setHost(i.host() == null ? "" : i.host())
            .setVmState(vmState(i.vmState()))
            .setTaskState(taskState(i.taskState()))
            .setPowerState(powerState(i.powerState()))
            .setImageRef(i.imageRef())
            .setRootDiskKind(
                i.rootDiskKind() == RootDiskKind.RBD
                    ? io.stratus.proto.conductor.v1.RootDiskKind.ROOT_DISK_KIND_RBD
                    : io.stratus.proto.conductor.v1.RootDiskKind.ROOT_DISK_KIND_LOCAL)
            .setFlavor(
                Flavor.newBuilder()
                    .setVcpus(i.vcpus())
                    .setMemoryMb(i.memoryMb())
                    .setRootGb(i.rootGb()))
            .setLocked(i.locked())
            .setLockedBy(i.lockedBy() == null ? "" : i.lockedBy())
            .putAllMetadata(i.metadata())
            .setCreatedAt(timestamp(i.createdAt()))
            .setUpdatedAt(timestamp(i.updatedAt()))
            .setVersion(i.version());
    if (i.deletedAt() != null) {
      b.setDeletedAt(timestamp(i.deletedAt()));
    }
    fault.ifPresent(
        f -> b.setFault(
            Fault.newBuilder()
                .setCode(f.code())
                .setMessage(f.message())
                .setDetails(f.details() == null ? "" : f.details())
                .setCreatedAt(timestamp(f.createdAt()))));
    return b.build();
  }

  public static ServerEvent snapshot(Server server, Instant now) {
    return ServerEvent.newBuilder()
        .setServerId(server.getId())
        .setTime(timestamp(now))
        .setSnapshot(server)
        .build();
  }

  public static ServerEvent stateChange(InstanceEntity i, TaskState oldTask, Instant now) {
    return ServerEvent.newBuilder()
        .setServerId(i.uuid().toString())
        .setTime(timestamp(now))
        .setStateChange(
            StateChange.newBuilder()
                .setVmState(vmState(i.vmState()))
                .setTaskState(taskState(i.taskState()))
                .setPowerState(powerState(i.powerState()))
                .setOldTaskState(taskState(oldTask))
                .setHost(i.host() == null ? "" : i.host()))
        .build();
  }

  public static ServerEvent notification(
      String serverId, String eventType, String requestId, Map<String, String> payload,
      Instant now) {
    return ServerEvent.newBuilder()
        .setServerId(serverId)
        .setTime(timestamp(now))
        .setNotification(
            Notification.newBuilder()
                .setEventType(eventType)
                .setRequestId(requestId)
                .putAllPayload(payload))
        .build();
  }

  public static ServerEvent progress(
      String serverId, String requestId, long done, long total, Instant now) {
    return ServerEvent.newBuilder()
        .setServerId(serverId)
        .setTime(timestamp(now))
        .setProgress(
            Progress.newBuilder().setRequestId(requestId).setBytesDone(done).setBytesTotal(total))
        .build();
  }
}
