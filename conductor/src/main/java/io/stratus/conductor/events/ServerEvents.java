package io.stratus.conductor.events;

import com.google.protobuf.Timestamp;
import io.stratus.conductor.domain.PowerState;
import io.stratus.conductor.domain.TaskState;
import io.stratus.conductor.domain.VmState;
import io.stratus.proto.conductor.v1.Notification;
import io.stratus.proto.conductor.v1.Progress;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.StateChange;
import java.time.Instant;
import java.util.Map;

/** Builds the public {@code conductor.v1} events and maps the domain states to their enums. */
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

  public static ServerEvent snapshot(Server server, Instant now) {
    return ServerEvent.newBuilder()
        .setServerId(server.getId())
        .setTime(timestamp(now))
        .setSnapshot(server)
        .build();
  }

  /** A committed change of a server's states; {@code host} may be null. */
  public static ServerEvent stateChange(String serverId, VmState vm, TaskState task,
      PowerState power, String host, TaskState oldTask, Instant now) {
    return ServerEvent.newBuilder()
        .setServerId(serverId)
        .setTime(timestamp(now))
        .setStateChange(
            StateChange.newBuilder()
                .setVmState(vmState(vm))
                .setTaskState(taskState(task))
                .setPowerState(powerState(power))
                .setOldTaskState(taskState(oldTask))
                .setHost(host == null ? "" : host))
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
