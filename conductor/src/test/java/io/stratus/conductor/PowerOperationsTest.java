package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.ADMIN;
import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.DeleteServerRequest;
import io.stratus.proto.conductor.v1.RebootServerRequest;
import io.stratus.proto.conductor.v1.RebootType;
import io.stratus.proto.conductor.v1.StartServerRequest;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.VmState;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** start, stop, hard reboot and delete: state sequences on WatchServer, rules, failures. */
class PowerOperationsTest extends ConductorTest {


  private static void stopServer(String id) {
    h.servers(MEMBER_A).stopServer(StopServerRequest.newBuilder().setServerId(id).build());
  }

  private static void startServer(String id) {
    h.servers(MEMBER_A).startServer(StartServerRequest.newBuilder().setServerId(id).build());
  }

  private static void rebootHard(String id) {
    h.servers(MEMBER_A).rebootServer(RebootServerRequest.newBuilder()
        .setServerId(id).setType(RebootType.REBOOT_TYPE_HARD).build());
  }


  @Test
  void stopThenStartFollowNovasTaskStatesOnWatchServer() throws Exception {
    String id = h.bootActive("power");
    try (EventRecorder watch = new EventRecorder(h.serversAsync(MEMBER_A), id)) {
      stopServer(id);
      watch.awaitNotification("power_off.end");
      assertEquals(VmState.VM_STATE_STOPPED, h.awaitIdle(id).getVmState());
      assertEquals(PowerState.POWER_STATE_SHUTDOWN, h.agent.powerState(id).orElseThrow(),
          "the agent really powered the domain off");

      startServer(id);
      watch.awaitNotification("power_on.end");
      assertEquals(List.of(
          "snapshot",
          "powering-off/active/RUNNING", "n:power_off.start",
          "none/stopped/SHUTDOWN", "n:power_off.end",
          "powering-on/stopped/SHUTDOWN", "n:power_on.start",
          "none/active/RUNNING", "n:power_on.end"), watch.render());
    }
    assertEquals(PowerState.POWER_STATE_RUNNING, h.agent.powerState(id).orElseThrow());
    assertEquals(2, h.count("SELECT count(*) FROM instance_action_events e JOIN instance_actions a"
        + " ON a.id = e.action_id WHERE a.instance_uuid = ?::uuid AND e.result = 'Success'"
        + " AND e.event IN ('compute_stop_instance', 'compute_start_instance')", id));
  }

  @Test
  void hardRebootGoesThroughItsThreeTaskStates() throws Exception {
    String id = h.bootActive("reboot");
    try (EventRecorder watch = new EventRecorder(h.serversAsync(MEMBER_A), id)) {
      rebootHard(id);
      watch.awaitNotification("reboot.end");
      assertEquals(List.of(
          "snapshot",
          "rebooting_hard/active/RUNNING", "n:reboot.start",
          "reboot_pending_hard/active/RUNNING",
          "reboot_started_hard/active/RUNNING",
          "none/active/RUNNING", "n:reboot.end"), watch.render());
    }
  }

  @Test
  void snapshotStreamsEveryTaskStateAndProgress() throws Exception {
    String id = h.bootActive("watched-snapshot");
    try (EventRecorder watch = new EventRecorder(h.serversAsync(MEMBER_A), id)) {
      h.servers(MEMBER_A).createImage(
          CreateImageRequest.newBuilder().setServerId(id).setName("watched").build());
      watch.awaitNotification("snapshot.end");
      assertEquals(List.of(
          "snapshot",
          "image_snapshot_pending/active/RUNNING", "n:snapshot.start",
          "image_snapshot/active/RUNNING",
          "image_pending_upload/active/RUNNING",
          "image_uploading/active/RUNNING",
          "none/active/RUNNING", "n:snapshot.end"), watch.render());
      var progress = watch.progress();
      assertTrue(progress.size() >= 2, "progress events: " + progress);
      var last = progress.get(progress.size() - 1).getProgress();
      assertEquals(last.getBytesTotal(), last.getBytesDone());
    }
  }

  @Test
  void hardRebootFromErrorRecoversTheServer() throws Exception {
    String id = h.bootActive("from-error");
    h.forceState(id, "error", null, 4);
    rebootHard(id);
    var s = h.awaitIdle(id);
    assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState());
  }

  @Test
  void hardRebootMayInterruptASoftRebootOrPauseInFlight() throws Exception {
    String id = h.bootActive("interrupt");
    for (String task : List.of("rebooting", "pausing", "reboot_started_hard")) {
      h.forceState(id, "active", task, 1);
      rebootHard(id);
      assertEquals(VmState.VM_STATE_ACTIVE, h.awaitIdle(id).getVmState());
    }
  }

  @Test
  void stopFromErrorIsAllowedAndStartFromActiveIsNot() throws Exception {
    String id = h.bootActive("rules");
    var e = refused(Status.Code.FAILED_PRECONDITION, () -> startServer(id));
    assertEquals("cannot start server " + id + " while it is in vm_state active",
        e.getStatus().getDescription());

    h.forceState(id, "error", null, 1);
    stopServer(id);
    assertEquals(VmState.VM_STATE_STOPPED, h.awaitIdle(id).getVmState());

    var again = refused(Status.Code.FAILED_PRECONDITION, () -> stopServer(id));
    assertEquals("cannot stop server " + id + " while it is in vm_state stopped",
        again.getStatus().getDescription());
    var snapshotTask = refused(Status.Code.FAILED_PRECONDITION, () -> {
      try {
        h.forceState(id, "stopped", "image_uploading", 4);
      } catch (Exception ex) {
        throw new AssertionError(ex);
      }
      startServer(id);
    });
    assertEquals("cannot start server " + id + " while it is in task_state image_uploading",
        snapshotTask.getStatus().getDescription());
    var rebootDuringSnapshot = refused(Status.Code.FAILED_PRECONDITION, () -> rebootHard(id));
    assertEquals("cannot reboot server " + id + " while it is in task_state image_uploading",
        rebootDuringSnapshot.getStatus().getDescription());
    h.forceState(id, "stopped", null, 4);
  }

  @Test
  void softRebootGoesThroughNovasSoftTaskStatesAndIsForActiveServersOnly() throws Exception {
    String id = h.bootActive("soft-reboot");
    try (EventRecorder watch = new EventRecorder(h.serversAsync(MEMBER_A), id)) {
      h.servers(MEMBER_A).rebootServer(RebootServerRequest.newBuilder().setServerId(id)
          .setType(RebootType.REBOOT_TYPE_SOFT).build());
      watch.awaitNotification("reboot.end");
      assertEquals(List.of(
          "snapshot",
          "rebooting/active/RUNNING", "n:reboot.start",
          "reboot_pending/active/RUNNING",
          "reboot_started/active/RUNNING",
          "none/active/RUNNING", "n:reboot.end"), watch.render());
    }
    stopServer(id);
    h.awaitIdle(id);
    var e = refused(Status.Code.FAILED_PRECONDITION, () -> h.servers(MEMBER_A).rebootServer(
        RebootServerRequest.newBuilder().setServerId(id).setType(RebootType.REBOOT_TYPE_SOFT)
            .build()));
    assertEquals("cannot reboot server " + id + " while it is in vm_state stopped",
        e.getStatus().getDescription());
    assertEquals(PowerState.POWER_STATE_SHUTDOWN, h.agent.powerState(id).orElseThrow(),
        "the refused soft reboot did nothing");
  }

  @Test
  void rebootInBuildingIsRefusedAndATypeIsRequired() throws Exception {
    String id = h.bootActive("building");
    h.forceState(id, "building", null, 0);
    var e = refused(Status.Code.FAILED_PRECONDITION, () -> rebootHard(id));
    assertEquals("cannot reboot server " + id + " while it is in vm_state building",
        e.getStatus().getDescription());
    var noType = refused(Status.Code.INVALID_ARGUMENT, () -> h.servers(MEMBER_A).rebootServer(
        RebootServerRequest.newBuilder().setServerId(id).build()));
    assertEquals("type: must be HARD or SOFT", noType.getStatus().getDescription());
    h.forceState(id, "active", null, 1);
  }

  @Test
  void failedPowerOnKeepsTheServerStoppedAndRecordsTheFault() throws Exception {
    String id = h.bootActive("power-on-fails");
    stopServer(id);
    h.awaitIdle(id);
    h.agent.failAt("PowerOn", 0, Status.INTERNAL.withDescription("domain did not reach RUNNING"));
    startServer(id);
    var s = h.awaitIdle(id);
    assertEquals(VmState.VM_STATE_STOPPED, s.getVmState());
    assertEquals("INTERNAL: domain did not reach RUNNING", s.getFault().getMessage());
    assertEquals("Error", h.string("SELECT e.result FROM instance_action_events e JOIN"
        + " instance_actions a ON a.id = e.action_id WHERE a.instance_uuid = ?::uuid"
        + " AND a.action = 'start'", id));
  }

  @Test
  void failedHardRebootPutsTheServerInError() throws Exception {
    String id = h.bootActive("reboot-fails");
    h.agent.failAt("Reboot", 1, Status.INTERNAL.withDescription("virDomainCreate failed"));
    rebootHard(id);
    var s = h.awaitIdle(id);
    assertEquals(VmState.VM_STATE_ERROR, s.getVmState());
    assertEquals("INTERNAL: virDomainCreate failed", s.getFault().getMessage());
  }

  @Test
  void deleteDuringASnapshotWinsAndTheSnapshotStopsWithoutOverwritingIt() throws Exception {
    String id = h.bootActive("delete-mid-snapshot");
    var gate = h.agent.blockAt("Snapshot", 1);  // after image_snapshot
    // Pace the fake so its upload cannot finish before the conductor sees the lost
    // swap: an image that did become active would rightly be kept (SPEC §4 step 5).
    h.agent.delayBetweenUpdates(Duration.ofMillis(500));
    var image = h.servers(MEMBER_A).createImage(
        CreateImageRequest.newBuilder().setServerId(id).setName("doomed").build());
    assertTrue(gate.awaitReached(Duration.ofSeconds(10)));
    try (EventRecorder watch = new EventRecorder(h.serversAsync(MEMBER_A), id)) {
      h.servers(MEMBER_A).deleteServer(DeleteServerRequest.newBuilder().setServerId(id).build());
      gate.release();
      watch.await(e -> e.hasStateChange()
          && e.getStateChange().getVmState() == VmState.VM_STATE_DELETED, Duration.ofSeconds(20));
      // The snapshot's next transition lost its compare-and-swap against "deleting":
      // it never wrote its task state over the delete.
      assertTrue(watch.render().stream().noneMatch(r -> r.startsWith("image_pending_upload")),
          watch.render().toString());
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (watch.completed() == false && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertTrue(watch.completed(), "WatchServer ends after the deletion");
    }
    assertTrue(h.conductor.taskDriver().awaitIdle(Duration.ofSeconds(10)));
    assertEquals("deleted", h.string("SELECT vm_state FROM instances WHERE uuid = ?::uuid", id));
    assertTrue(h.gateway.image(image.getImageId()).isEmpty(), "the unfinished image was deleted");
    assertTrue(h.agent.powerState(id).isEmpty(), "the domain is gone from the host");
    var notFound = refused(Status.Code.NOT_FOUND, () -> stopServer(id));
    assertEquals("server " + id + " not found", notFound.getStatus().getDescription());
  }

  @Test
  void adminMayActOnAnotherProjectsServer() throws Exception {
    String id = h.bootActive("admin-acts");
    h.servers(ADMIN).stopServer(StopServerRequest.newBuilder().setServerId(id).build());
    assertEquals(VmState.VM_STATE_STOPPED, h.awaitIdle(id).getVmState());
  }
}
