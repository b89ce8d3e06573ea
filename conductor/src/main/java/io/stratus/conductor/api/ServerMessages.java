package io.stratus.conductor.api;

import static io.stratus.conductor.events.ServerEvents.powerState;
import static io.stratus.conductor.events.ServerEvents.taskState;
import static io.stratus.conductor.events.ServerEvents.timestamp;
import static io.stratus.conductor.events.ServerEvents.vmState;

import io.stratus.conductor.compute.ActionView;
import io.stratus.conductor.compute.ServerView;
import io.stratus.conductor.domain.RootDiskKind;
import io.stratus.proto.conductor.v1.ActionEvent;
import io.stratus.proto.conductor.v1.AttachedVolume;
import io.stratus.proto.conductor.v1.Fault;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerAction;

/** Maps the application layer's server and action views to the public messages. */
final class ServerMessages {
  private ServerMessages() {}

  /** The public view of a server, with its latest fault if any and its volumes. */
  static Server server(ServerView i) {
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
    i.fault().ifPresent(
        f -> b.setFault(
            Fault.newBuilder()
                .setCode(f.code())
                .setMessage(f.message())
                .setDetails(f.details() == null ? "" : f.details())
                .setCreatedAt(timestamp(f.createdAt()))));
    for (ServerView.Volume v : i.volumes()) {
      b.addVolumes(AttachedVolume.newBuilder()
          .setId(v.id().toString()).setDevice(v.device()).setBootIndex(v.bootIndex())
          .setSizeBytes(v.sizeBytes()).setDeleteOnTermination(v.deleteOnTermination()));
    }
    return b.build();
  }

  /** The public view of a server action with its events. */
  static ServerAction action(ActionView a) {
    var b = ServerAction.newBuilder()
        .setRequestId(a.requestId())
        .setAction(a.action())
        .setServerId(a.serverId().toString())
        .setProjectId(a.projectId())
        .setUserId(a.userId())
        .setStartTime(timestamp(a.startTime()))
        .setMessage(a.message() == null ? "" : a.message());
    if (a.finishTime() != null) {
      b.setFinishTime(timestamp(a.finishTime()));
    }
    for (ActionView.Event e : a.events()) {
      var eb = ActionEvent.newBuilder()
          .setEvent(e.event())
          .setStartTime(timestamp(e.startTime()))
          .setResult(e.result() == null ? "" : e.result())
          .setDetails(e.details() == null ? "" : e.details());
      if (e.finishTime() != null) {
        eb.setFinishTime(timestamp(e.finishTime()));
      }
      b.addEvents(eb);
    }
    return b.build();
  }
}
