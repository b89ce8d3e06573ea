package io.stratus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.stratus.cli.fake.FakeCloud;
import io.stratus.proto.conductor.v1.Fault;
import io.stratus.proto.conductor.v1.PowerState;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.ServerEvent;
import io.stratus.proto.conductor.v1.StateChange;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code --wait} on the task verbs: the final state, and exit 1 only for a new fault. */
class ServerWaitTest {
  private static final Fault OLD_FAULT = Fault.newBuilder()
      .setCode(Status.Code.UNAVAILABLE.value())
      .setMessage("host was down")
      .setCreatedAt(Timestamp.newBuilder().setSeconds(1_600_000_000))
      .build();
  private static final Server STOPPED = Server.newBuilder()
      .setId("44444444-4444-4444-4444-444444444444")
      .setName("app")
      .setVmState(VmState.VM_STATE_STOPPED)
      .setPowerState(PowerState.POWER_STATE_SHUTDOWN)
      .setFault(OLD_FAULT)
      .build();

  private FakeCloud cloud;

  @BeforeEach
  void setUp() throws Exception {
    cloud = new FakeCloud();
    cloud.servers.servers.put(STOPPED.getId(), STOPPED);
  }

  @AfterEach
  void tearDown() throws Exception {
    cloud.close();
  }

  @Test
  void startWaitPrintsTheFinalStateAndIgnoresAnOldFault() {
    Server active = STOPPED.toBuilder()
        .setVmState(VmState.VM_STATE_ACTIVE).setPowerState(PowerState.POWER_STATE_RUNNING)
        .build();
    cloud.servers.watchScript = List.of(
        snapshot(STOPPED.toBuilder().setTaskState(TaskState.TASK_STATE_POWERING_ON).build()),
        change(VmState.VM_STATE_ACTIVE, TaskState.TASK_STATE_NONE, PowerState.POWER_STATE_RUNNING));
    cloud.servers.afterWatch = () -> cloud.servers.servers.put(STOPPED.getId(), active);

    FakeCloud.Result r = cloud.run("server", "start", STOPPED.getId(), "--wait");

    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().lines().anyMatch(l -> l.matches("status\\s+active")), r.out());
    assertTrue(r.out().lines().anyMatch(l -> l.matches("power_state\\s+Running")), r.out());
    assertEquals("", r.err());
  }

  @Test
  void startWaitFailsOnAFaultRecordedMeanwhile() {
    Fault fresh = Fault.newBuilder()
        .setCode(Status.Code.INTERNAL.value())
        .setMessage("libvirt: domain failed to start")
        .setCreatedAt(Timestamp.newBuilder().setSeconds(1_700_000_000))
        .build();
    cloud.servers.watchScript = List.of(
        snapshot(STOPPED.toBuilder().setTaskState(TaskState.TASK_STATE_POWERING_ON).build()),
        change(VmState.VM_STATE_STOPPED, TaskState.TASK_STATE_NONE,
            PowerState.POWER_STATE_SHUTDOWN));
    cloud.servers.afterWatch = () ->
        cloud.servers.servers.put(STOPPED.getId(), STOPPED.toBuilder().setFault(fresh).build());

    FakeCloud.Result r = cloud.run("server", "start", STOPPED.getId(), "--wait");

    assertEquals(1, r.code());
    assertEquals("error: INTERNAL: libvirt: domain failed to start\n", r.err());
    assertTrue(r.out().lines().anyMatch(l -> l.matches("status\\s+stopped")), r.out());
  }

  @Test
  void deleteWaitEndsWithTheStream() {
    cloud.servers.watchScript = List.of(
        snapshot(STOPPED.toBuilder().setTaskState(TaskState.TASK_STATE_DELETING).build()),
        change(VmState.VM_STATE_DELETED, TaskState.TASK_STATE_NONE,
            PowerState.POWER_STATE_NOSTATE));
    cloud.servers.completeWatch = true;
    cloud.servers.afterWatch = () -> cloud.servers.servers.remove(STOPPED.getId());

    FakeCloud.Result r = cloud.run("server", "delete", STOPPED.getId(), "--wait", "-f", "json");

    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("\"vm_state\": \"VM_STATE_DELETED\""), r.out());
    assertEquals("", r.err());
  }

  private static ServerEvent snapshot(Server s) {
    return ServerEvent.newBuilder().setServerId(s.getId()).setSnapshot(s).build();
  }

  private static ServerEvent change(VmState vm, TaskState task, PowerState power) {
    return ServerEvent.newBuilder().setServerId(STOPPED.getId())
        .setStateChange(StateChange.newBuilder()
            .setVmState(vm).setTaskState(task).setPowerState(power))
        .build();
  }
}
