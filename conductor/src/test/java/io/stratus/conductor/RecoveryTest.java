package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Recovery and ownership with two conductors on one database: a task is driven only by
 * its owner while the owner's lease lives; when a conductor stops, another adopts its
 * tasks and re-attaches to the agent's operations by their ids: a snapshot still running
 * ends active, one the agent lost is cleaned up, power operations finish without running
 * twice.
 */
class RecoveryTest extends ConductorTest {


  /** A second conductor and a channel to it; closing it stops the conductor. */
  private static final class Second implements AutoCloseable {
    final Conductor conductor;
    final ManagedChannel channel;
    private boolean closed;

    Second() throws Exception {
      String name = InProcessServerBuilder.generateName();
      conductor = h.startAnotherConductor(name);
      channel = InProcessChannelBuilder.forName(name).build();
    }

    @Override
    public void close() throws Exception {
      if (!closed) {
        closed = true;
        channel.shutdownNow();
        conductor.close();
      }
    }
  }

  @Test
  void aTaskOwnedByALiveConductorIsLeftAlone() throws Exception {
    String id = h.bootActive("owned");
    h.forceState(id, "active", "powering-off", 1);  // owned by the harness's conductor
    try (Second second = new Second()) {
      assertEquals(0, second.conductor.reconciler().reconcileOnce());
      assertEquals(0, h.conductor.reconciler().reconcileOnce());
      assertEquals("powering-off", h.string("SELECT task_state FROM instances WHERE uuid = ?::uuid", id));
      assertEquals(h.conductor.id(), h.string("SELECT task_owner FROM instances WHERE uuid = ?::uuid", id));
    } finally {
      h.forceState(id, "active", null, 1);
    }
  }

  @Test
  void leasesAndHeartbeatsGoByTheDatabasesClockNotAConductorsOwn() throws Exception {
    String id = h.bootActive("skewed-clocks");
    h.forceState(id, "active", "powering-off", 1);  // owned by the harness's (live) conductor
    String name = InProcessServerBuilder.generateName();
    java.time.Clock ahead = java.time.Clock.offset(java.time.Clock.systemUTC(),
        Duration.ofHours(1));
    Conductor skewed = h.startAnotherConductor(name, ahead);
    try {
      assertEquals(0, skewed.reconciler().reconcileOnce(),
          "a conductor whose clock runs an hour ahead sees the other's lease alive");
      assertEquals(h.conductor.id(),
          h.string("SELECT task_owner FROM instances WHERE uuid = ?::uuid", id));
      assertTrue(skewed.hosts().list().stream().anyMatch(v -> v.up()
          && v.host().name().equals(ConductorHarness.HOST)), "and the beating host up");
    } finally {
      skewed.close();
      h.forceState(id, "active", null, 1);
    }
  }

  @Test
  void aSnapshotLeftByAStoppedConductorIsReattachedAndEndsActive() throws Exception {
    String id = h.bootActive("orphan-snapshot");
    var gate = h.agent.blockAt("Snapshot", 2);
    int executionsBefore = h.agent.executionCount("Snapshot");
    String imageId;
    String requestId;
    try (Second second = new Second()) {
      var r = ConductorHarness.servers(second.channel, MEMBER_A).createImage(
          CreateImageRequest.newBuilder().setServerId(id).setName("orphan").build());
      imageId = r.getImageId();
      requestId = r.getRequestId();
      assertTrue(gate.awaitReached(Duration.ofSeconds(10)));
      assertEquals(second.conductor.id(),
          h.string("SELECT task_owner FROM instances WHERE uuid = ?::uuid", id));
    }  // the second conductor stops with the snapshot in flight; its lease goes with it

    // Recovery adopts the orphan (this round, or the periodic loop already did) and
    // re-attaches to the agent's operation by its id; the snapshot goes on to its end.
    try {
      h.conductor.reconciler().reconcileOnce();
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (h.agent.calls().stream().noneMatch(c -> c.rpc().equals("AttachOperation")
          && c.operationId().equals(requestId)) && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertTrue(h.agent.calls().stream().anyMatch(
          c -> c.rpc().equals("AttachOperation") && c.operationId().equals(requestId)),
          "recovery attached to the running snapshot");
    } finally {
      gate.release();
    }
    var server = h.awaitIdle(id);
    assertEquals(TaskState.TASK_STATE_NONE, server.getTaskState());
    assertEquals(io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_ACTIVE,
        h.gateway.image(imageId).orElseThrow().getStatus(), "the snapshot ends active");
    assertEquals(executionsBefore + 1, h.agent.executionCount("Snapshot"),
        "the snapshot ran once");
    assertEquals("Success", h.string("SELECT e.result FROM instance_action_events e JOIN"
        + " instance_actions a ON a.id = e.action_id WHERE a.request_id = ?", requestId));
    assertEquals(null, h.string("SELECT task_owner FROM instances WHERE uuid = ?::uuid", id));
  }

  @Test
  void aSnapshotTheAgentLostIsCleanedUpWhenRecoveryAttaches() throws Exception {
    String id = h.bootActive("lost-snapshot");
    var gate = h.agent.blockAt("Snapshot", 2);
    String imageId;
    String requestId;
    try (Second second = new Second()) {
      var r = ConductorHarness.servers(second.channel, MEMBER_A).createImage(
          CreateImageRequest.newBuilder().setServerId(id).setName("lost").build());
      imageId = r.getImageId();
      requestId = r.getRequestId();
      assertTrue(gate.awaitReached(Duration.ofSeconds(10)));
      h.agent.forgetOperations();  // the agent restarted too: the snapshot is gone with it
    }
    h.conductor.reconciler().reconcileOnce();
    var server = h.awaitIdle(id);
    assertEquals(TaskState.TASK_STATE_NONE, server.getTaskState());
    assertTrue(h.gateway.image(imageId).isEmpty(), "the unfinished image is deleted");
    assertTrue(server.getFault().getMessage().contains("the agent lost the operation"),
        server.getFault().getMessage());
    assertEquals("Error", h.string("SELECT e.result FROM instance_action_events e JOIN"
        + " instance_actions a ON a.id = e.action_id WHERE a.request_id = ?", requestId));
    assertEquals(0, h.agent.executions().stream().filter(c -> c.operationId().equals(requestId))
        .count() - 1, "it was not started again late");
    gate.release();
  }

  @Test
  void aStopLeftByAStoppedConductorIsReattachedAndRunsOnce() throws Exception {
    String id = h.bootActive("orphan-stop");
    var gate = h.agent.blockAt("PowerOff", 0);
    int executionsBefore = h.agent.executionCount("PowerOff");
    try (Second second = new Second()) {
      ConductorHarness.servers(second.channel, MEMBER_A).stopServer(
          StopServerRequest.newBuilder().setServerId(id).build());
      assertTrue(gate.awaitReached(Duration.ofSeconds(10)));
    }
    // Recovery re-attaches: this round, or the periodic loop may already have.
    h.conductor.reconciler().reconcileOnce();
    gate.release();
    var server = h.awaitIdle(id);
    assertEquals(VmState.VM_STATE_STOPPED, server.getVmState());
    assertEquals(executionsBefore + 1, h.agent.executionCount("PowerOff"),
        "re-attached to the running power-off; it did not run twice");
    assertEquals("Success", h.string("SELECT e.result FROM instance_action_events e JOIN"
        + " instance_actions a ON a.id = e.action_id WHERE a.instance_uuid = ?::uuid"
        + " AND a.action = 'stop'", id));
  }

  @Test
  void theReconcileLoopResolvesOwnerlessTasksByItself() throws Exception {
    String pausing = h.bootActive("ownerless-pausing");
    String spawning = h.bootActive("ownerless-spawning");
    h.forceState(pausing, "active", "pausing", 1, null);
    h.forceState(spawning, "building", "spawning", 0, null);
    // No explicit round: the loop runs every heartbeat interval.
    assertEquals(TaskState.TASK_STATE_NONE, h.awaitIdle(pausing).getTaskState());
    var s = h.awaitIdle(spawning);
    assertEquals(VmState.VM_STATE_ERROR, s.getVmState(), "an interrupted build ends in error");
  }
}
