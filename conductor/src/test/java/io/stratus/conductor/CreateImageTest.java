package io.stratus.conductor;

import static io.stratus.conductor.ConductorHarness.ADMIN;
import static io.stratus.conductor.ConductorHarness.MEMBER_A;
import static io.stratus.conductor.ConductorHarness.MEMBER_B;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.CancelServerTaskRequest;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateImageResponse;
import io.stratus.proto.conductor.v1.ListServerActionsRequest;
import io.stratus.proto.conductor.v1.LockServerRequest;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.image.v1.ImageStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** createImage (snapshot) through the public API: SPEC §4 rules, cleanup and races. */
class CreateImageTest extends ConductorTest {


  private static CreateImageResponse snapshot(String token, String id, String name) {
    return h.servers(token).createImage(
        CreateImageRequest.newBuilder().setServerId(id).setName(name).build());
  }


  private static long images() {
    return h.gateway.images().size();
  }

  private static long actions(String id) throws Exception {
    return h.count("SELECT count(*) FROM instance_actions WHERE instance_uuid = ?::uuid", id);
  }

  @Test
  void aSnapshotInheritsTheGuestAgentAndQuiescePropertiesOfTheBootImage() throws Exception {
    String agentImage = h.gateway.seedActiveImage("with-agent-local",
        Map.of("hw_qemu_guest_agent", "yes", "os_require_quiesce", "yes")).getId();
    String id = h.servers(MEMBER_A).createServer(
        io.stratus.proto.conductor.v1.CreateServerRequest.newBuilder().setName("qga")
            .setImageRef(agentImage).setFlavor(io.stratus.proto.conductor.v1.Flavor.newBuilder()
                .setVcpus(1).setMemoryMb(128).setRootGb(1)).build()).getServer().getId();
    h.awaitIdle(id);
    CreateImageResponse inherited = snapshot(MEMBER_A, id, "inherits");
    h.awaitIdle(id);
    var props = h.gateway.image(inherited.getImageId()).orElseThrow().getPropertiesMap();
    assertEquals("yes", props.get("hw_qemu_guest_agent"), "a server booted from it gets the channel");
    assertEquals("yes", props.get("os_require_quiesce"));

    String plain = h.bootActive("no-agent");
    var none = h.gateway.image(snapshot(MEMBER_A, plain, "plain").getImageId()).orElseThrow();
    h.awaitIdle(plain);
    assertFalse(none.getPropertiesMap().containsKey("hw_qemu_guest_agent"), none.toString());
    assertFalse(none.getPropertiesMap().containsKey("os_require_quiesce"), none.toString());
  }

  @Test
  void snapshotOfActiveServerMakesAnActiveImageAndReturnsTheServerToNoTask() throws Exception {
    String id = h.bootActive("snap-me");
    CreateImageResponse r = snapshot(MEMBER_A, id, "  nightly  ");
    assertFalse(r.getImageId().isEmpty());
    assertTrue(r.getRequestId().startsWith("req-"));

    var server = h.awaitIdle(id);
    assertEquals(TaskState.TASK_STATE_NONE, server.getTaskState());
    assertEquals("active", h.string("SELECT vm_state FROM instances WHERE uuid = ?::uuid", id));
    assertEquals(null, h.string("SELECT task_state FROM instances WHERE uuid = ?::uuid", id));

    var image = h.gateway.image(r.getImageId()).orElseThrow();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    assertEquals("nightly", image.getName(), "name is trimmed");
    assertEquals("project-a", image.getOwner());
    assertEquals("snapshot", image.getPropertiesMap().get("image_type"));
    assertEquals(id, image.getPropertiesMap().get("instance_uuid"));
    assertEquals(h.baseImageId, image.getPropertiesMap().get("base_image_ref"));
    assertEquals("user-a", image.getPropertiesMap().get("user_id"));

    var actions = h.servers(MEMBER_A)
        .listServerActions(ListServerActionsRequest.newBuilder().setServerId(id).build())
        .getActionsList();
    var action = actions.get(0);
    assertEquals("createImage", action.getAction());
    assertEquals(r.getRequestId(), action.getRequestId());
    assertTrue(action.hasFinishTime());
    assertEquals("", action.getMessage());
    assertEquals(1, action.getEventsCount());
    assertEquals("compute_snapshot_instance", action.getEvents(0).getEvent());
    assertEquals("Success", action.getEvents(0).getResult());

    // The agent saw one execution keyed by the request id.
    assertTrue(h.agent.executions().stream().anyMatch(
        c -> c.rpc().equals("Snapshot") && c.operationId().equals(r.getRequestId())));
  }

  @ParameterizedTest
  @ValueSource(strings = {"stopped", "paused", "suspended"})
  void snapshotIsAllowedInEveryNovaState(String vmState) throws Exception {
    String id = h.bootActive("state-" + vmState);
    h.forceState(id, vmState, null, vmState.equals("stopped") ? 4 : vmState.equals("paused") ? 3 : 7);
    var r = snapshot(MEMBER_A, id, "in-" + vmState);
    h.awaitIdle(id);
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, h.gateway.image(r.getImageId()).orElseThrow().getStatus());
    assertEquals(vmState, h.string("SELECT vm_state FROM instances WHERE uuid = ?::uuid", id),
        "vm_state is unchanged by a snapshot");
  }

  @ParameterizedTest
  @ValueSource(strings = {"building", "error"})
  void snapshotInADisallowedVmStateIsRefusedNamingTheState(String vmState) throws Exception {
    String id = h.bootActive("bad-" + vmState);
    h.forceState(id, vmState, null, 1);
    long imagesBefore = images();
    long actionsBefore = actions(id);
    var e = refused(Status.Code.FAILED_PRECONDITION, () -> snapshot(MEMBER_A, id, "x"));
    assertEquals("cannot createImage server " + id + " while it is in vm_state " + vmState,
        e.getStatus().getDescription());
    assertEquals(imagesBefore, images(), "no image record was created");
    assertEquals(actionsBefore, actions(id), "no action was recorded");
  }

  @Test
  void snapshotWhileATaskIsInFlightIsRefusedNamingTheTaskState() throws Exception {
    String id = h.bootActive("busy");
    h.forceState(id, "active", "powering-off", 1);
    var e = refused(Status.Code.FAILED_PRECONDITION, () -> snapshot(MEMBER_A, id, "x"));
    assertEquals("cannot createImage server " + id + " while it is in task_state powering-off",
        e.getStatus().getDescription());
    h.forceState(id, "active", null, 1);
  }

  @Test
  void lockedServerRefusesTheOwnerButNotAnAdmin() throws Exception {
    String id = h.bootActive("locked");
    h.servers(MEMBER_A).lockServer(LockServerRequest.newBuilder().setServerId(id).build());
    long imagesBefore = images();
    var e = refused(Status.Code.FAILED_PRECONDITION, () -> snapshot(MEMBER_A, id, "x"));
    assertEquals("server " + id + " is locked", e.getStatus().getDescription());
    assertEquals(imagesBefore, images());

    var r = snapshot(ADMIN, id, "admin-override");
    h.awaitIdle(id);
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, h.gateway.image(r.getImageId()).orElseThrow().getStatus());
  }

  @Test
  void unknownOrForeignServerIsNotFound() throws Exception {
    String unknown = UUID.randomUUID().toString();
    var e = refused(Status.Code.NOT_FOUND, () -> snapshot(MEMBER_A, unknown, "x"));
    assertEquals("server " + unknown + " not found", e.getStatus().getDescription());

    String id = h.bootActive("project-a-only");
    var foreign = refused(Status.Code.NOT_FOUND, () -> snapshot(MEMBER_B, id, "x"));
    assertEquals("server " + id + " not found", foreign.getStatus().getDescription());
  }

  @Test
  void malformedServerIdIsInvalidArgumentNamingTheField() {
    var e = refused(Status.Code.INVALID_ARGUMENT, () -> snapshot(MEMBER_A, "not-a-uuid", "x"));
    assertEquals("server_id: 'not-a-uuid' is not a UUID", e.getStatus().getDescription());
  }

  @Test
  void invalidNamesAreRefusedNamingTheFieldAndWriteNothing() throws Exception {
    String id = h.bootActive("names");
    long imagesBefore = images();
    long actionsBefore = actions(id);
    Map<String, String> cases = Map.of(
        "", "name: must not be empty",
        "   ", "name: must not be empty",
        "x".repeat(256), "name: must be at most 255 characters",
        "bad\u0007name", "name: must not contain control characters",
        "line\nbreak", "name: must not contain control characters");
    for (var c : cases.entrySet()) {
      var e = refused(Status.Code.INVALID_ARGUMENT, () -> snapshot(MEMBER_A, id, c.getKey()));
      assertEquals(c.getValue(), e.getStatus().getDescription());
    }
    // 255 characters is still fine.
    snapshot(MEMBER_A, id, "y".repeat(255));
    h.awaitIdle(id);
    assertEquals(imagesBefore + 1, images());
    assertEquals(actionsBefore + 1, actions(id));
  }

  @Test
  void invalidMetadataIsRefusedNamingTheField() throws Exception {
    String id = h.bootActive("meta");
    long imagesBefore = images();
    // The quota (128) counts the 4 properties every snapshot carries: 124 are left.
    Map<String, String> tooMany = new HashMap<>();
    for (int i = 0; i < 125; i++) {
      tooMany.put("k" + i, "v");
    }
    var e = refused(Status.Code.RESOURCE_EXHAUSTED, () -> h.servers(MEMBER_A).createImage(
        CreateImageRequest.newBuilder().setServerId(id).setName("m").putAllMetadata(tooMany).build()));
    assertEquals("metadata: has 125 properties; with the 4 every snapshot carries that exceeds"
        + " the limit image.max.properties = 128", e.getStatus().getDescription());

    var longKey = refused(Status.Code.INVALID_ARGUMENT, () -> h.servers(MEMBER_A).createImage(
        CreateImageRequest.newBuilder().setServerId(id).setName("m")
            .putMetadata("k".repeat(256), "v").build()));
    assertTrue(longKey.getStatus().getDescription().startsWith("metadata: key 'kkkk"),
        longKey.getStatus().getDescription());

    var longValue = refused(Status.Code.INVALID_ARGUMENT, () -> h.servers(MEMBER_A).createImage(
        CreateImageRequest.newBuilder().setServerId(id).setName("m")
            .putMetadata("big", "v".repeat(65536)).build()));
    assertEquals("metadata.big: value must be at most 65535 characters",
        longValue.getStatus().getDescription());

    var reserved = refused(Status.Code.INVALID_ARGUMENT, () -> h.servers(MEMBER_A).createImage(
        CreateImageRequest.newBuilder().setServerId(id).setName("m")
            .putMetadata("instance_uuid", "spoof").build()));
    assertEquals("metadata.instance_uuid: is set by the conductor and cannot be given",
        reserved.getStatus().getDescription());
    assertEquals(imagesBefore, images());

    Map<String, String> quota = new HashMap<>(tooMany);
    quota.remove("k0");
    var ok = h.servers(MEMBER_A).createImage(
        CreateImageRequest.newBuilder().setServerId(id).setName("m").putAllMetadata(quota).build());
    h.awaitIdle(id);
    assertEquals("v", h.gateway.image(ok.getImageId()).orElseThrow().getPropertiesMap().get("k1"));
  }

  @Test
  void fiftyConcurrentSnapshotsAcceptExactlyOneAndLeaveNoOtherImage() throws Exception {
    String id = h.bootActive("race");
    var gate = h.agent.blockAt("Snapshot", 0);  // hold the winner so nobody else can start
    long imagesBefore = images();
    ExecutorService pool = Executors.newFixedThreadPool(50);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<String>> results = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      int n = i;
      Callable<String> call = () -> {
        go.await();
        try {
          return "OK " + snapshot(MEMBER_A, id, "race-" + n).getImageId();
        } catch (StatusRuntimeException e) {
          return e.getStatus().getCode().name();
        }
      };
      results.add(pool.submit(call));
    }
    go.countDown();
    List<String> outcomes = new ArrayList<>();
    for (Future<String> f : results) {
      outcomes.add(f.get());
    }
    pool.shutdown();
    List<String> winners = outcomes.stream().filter(o -> o.startsWith("OK ")).toList();
    assertEquals(1, winners.size(), "exactly one snapshot is accepted: " + outcomes);
    assertTrue(outcomes.stream().allMatch(o -> o.startsWith("OK ")
        || o.equals("ABORTED") || o.equals("FAILED_PRECONDITION")), outcomes.toString());
    assertTrue(gate.awaitReached(Duration.ofSeconds(10)));
    // Only the winner's image exists; the 49 losers left no record behind.
    String winnerImage = winners.get(0).substring(3);
    assertEquals(imagesBefore + 1, images());
    assertTrue(h.gateway.image(winnerImage).isPresent());
    assertEquals(1, h.count("SELECT count(*) FROM instance_actions WHERE instance_uuid = ?::uuid"
        + " AND action = 'createImage'", id));
    gate.release();
    h.awaitIdle(id);
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, h.gateway.image(winnerImage).orElseThrow().getStatus());
  }

  @Test
  void agentFailureMidSnapshotDeletesTheImageRevertsTheTaskAndRecordsTheFault() throws Exception {
    String id = h.bootActive("fails");
    h.agent.failAt("Snapshot", 2, Status.INTERNAL.withDescription("qemu-img map failed"));
    var r = snapshot(MEMBER_A, id, "doomed");
    var server = h.awaitIdle(id);

    assertEquals(TaskState.TASK_STATE_NONE, server.getTaskState());
    assertEquals("active", h.string("SELECT vm_state FROM instances WHERE uuid = ?::uuid", id));
    assertTrue(h.gateway.image(r.getImageId()).isEmpty(), "the image of a failed snapshot is deleted");
    assertTrue(h.gateway.wasDeleted(r.getImageId()));
    assertEquals("INTERNAL: qemu-img map failed", server.getFault().getMessage());
    assertEquals(Status.Code.INTERNAL.value(), server.getFault().getCode());
    assertEquals(1, h.count("SELECT count(*) FROM instance_faults WHERE instance_uuid = ?::uuid", id));
    assertEquals("Error", h.string("SELECT e.result FROM instance_action_events e"
        + " JOIN instance_actions a ON a.id = e.action_id WHERE a.request_id = ?", r.getRequestId()));
    assertEquals("INTERNAL: qemu-img map failed", h.string(
        "SELECT message FROM instance_actions WHERE request_id = ?", r.getRequestId()));
    assertNotNull(h.string("SELECT finish_time FROM instance_actions WHERE request_id = ?",
        r.getRequestId()));
    assertEquals(null, h.string("SELECT task_request_id FROM instances WHERE uuid = ?::uuid", id));
  }

  @Test
  void brokenAgentStreamRunsTheSameCleanup() throws Exception {
    String id = h.bootActive("broken");
    h.agent.breakStreamAt("Snapshot", 3);
    var r = snapshot(MEMBER_A, id, "lost");
    var server = h.awaitIdle(id);
    assertEquals(TaskState.TASK_STATE_NONE, server.getTaskState());
    assertTrue(h.gateway.image(r.getImageId()).isEmpty());
    assertTrue(server.getFault().getMessage().startsWith("UNAVAILABLE"), server.getFault().getMessage());
  }

  @Test
  void aLinkThatBreaksWhileTheAgentWorksIsReattachedAndTheSnapshotEndsActive() throws Exception {
    String id = h.bootActive("link-break");
    int executionsBefore = h.agent.executionCount("Snapshot");
    h.agent.dropStreamsAt("Snapshot", 2);
    var r = snapshot(MEMBER_A, id, "survives");
    var server = h.awaitIdle(id);
    assertEquals(TaskState.TASK_STATE_NONE, server.getTaskState());
    assertEquals(io.stratus.proto.image.v1.ImageStatus.IMAGE_STATUS_ACTIVE,
        h.gateway.image(r.getImageId()).orElseThrow().getStatus());
    assertEquals(executionsBefore + 1, h.agent.executionCount("Snapshot"), "it ran once");
    assertTrue(h.agent.calls().stream().anyMatch(c -> c.rpc().equals("AttachOperation")
        && c.operationId().equals(r.getRequestId())), "the conductor re-attached by its id");
    assertEquals("Success", h.string("SELECT e.result FROM instance_action_events e"
        + " JOIN instance_actions a ON a.id = e.action_id WHERE a.request_id = ?", r.getRequestId()));
  }

  @Test
  void gatewayRefusingTheImageRecordChangesNothing() throws Exception {
    String id = h.bootActive("no-gateway");
    h.gateway.failNextCreate(Status.UNAVAILABLE.withDescription("gateway restarting"));
    long actionsBefore = actions(id);
    var e = refused(Status.Code.UNAVAILABLE, () -> snapshot(MEMBER_A, id, "x"));
    assertTrue(e.getStatus().getDescription().startsWith("image-gateway could not create the image"),
        e.getStatus().getDescription());
    assertEquals(null, h.string("SELECT task_state FROM instances WHERE uuid = ?::uuid", id));
    assertEquals(actionsBefore, actions(id));
  }

  @Test
  void cancellingASnapshotCleansUpWithoutRecordingAFault() throws Exception {
    String id = h.bootActive("cancel");
    var gate = h.agent.blockAt("Snapshot", 2);
    var r = snapshot(MEMBER_A, id, "cancel-me");
    assertTrue(gate.awaitReached(Duration.ofSeconds(10)));
    var cancelled = h.servers(MEMBER_A).cancelServerTask(
        CancelServerTaskRequest.newBuilder().setServerId(id).build());
    assertEquals(r.getRequestId(), cancelled.getRequestId());
    // The gate is not released: only the cancel reaching the agent may end the blocked task.
    // (Releasing it here raced the asynchronous cancel and let the snapshot finish.)
    var server = h.awaitIdle(id);
    gate.release();
    assertEquals(TaskState.TASK_STATE_NONE, server.getTaskState());
    assertTrue(h.gateway.image(r.getImageId()).isEmpty());
    assertFalse(server.hasFault());
    assertEquals("cancelled", h.string("SELECT e.details FROM instance_action_events e"
        + " JOIN instance_actions a ON a.id = e.action_id WHERE a.request_id = ?", r.getRequestId()));
  }

  @Test
  void cancelWithNoSnapshotInFlightIsFailedPrecondition() throws Exception {
    String id = h.bootActive("nothing-to-cancel");
    var e = refused(Status.Code.FAILED_PRECONDITION, () -> h.servers(MEMBER_A).cancelServerTask(
        CancelServerTaskRequest.newBuilder().setServerId(id).build()));
    assertEquals("server " + id + " has no snapshot in flight (task_state none)",
        e.getStatus().getDescription());
  }
}
