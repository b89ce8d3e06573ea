package io.stratus.conductor.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.stratus.proto.agent.v1.CancelOperationRequest;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.proto.agent.v1.GetAgentInfoRequest;
import io.stratus.proto.agent.v1.GetAgentInfoResponse;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.ListInstancesRequest;
import io.stratus.proto.agent.v1.PowerOffRequest;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.agent.v1.RebootRequest;
import io.stratus.proto.agent.v1.RebootType;
import io.stratus.proto.agent.v1.SnapshotRequest;
import io.stratus.proto.agent.v1.SnapshotResult;
import io.stratus.proto.agent.v1.TaskState;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.DeleteImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ImagesGrpc;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Drives the simulated agent ({@link AgentSimulator}) over in-process gRPC, uploading into
 * the real gateway ({@link InProcessGateway}), and the gateway's fault injection.
 */
class AgentSimulatorTest {

  private static final Duration WAIT = Duration.ofSeconds(5);

  private InProcessGateway gateway;
  private AgentSimulator agent;
  private Server server;
  private ManagedChannel channel;
  private ComputeAgentGrpc.ComputeAgentBlockingStub agentStub;
  private ImagesGrpc.ImagesBlockingStub imagesStub;

  @BeforeEach
  void start() throws Exception {
    gateway = InProcessGateway.start();
    agent = new AgentSimulator("compute-1", gateway);
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(agent.served()).build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    agentStub = ComputeAgentGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    imagesStub = ImagesGrpc.newBlockingStub(gateway.channel())
        .withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    gateway.close();
  }

  @Test
  void snapshotStreamsTransitionsProgressAndResultAndActivatesTheImage() {
    String uuid = runningInstance();
    Image queued = createImage("snap-1");

    List<TaskUpdate> updates = drain(agentStub.snapshot(snapshot("op-1", uuid, queued.getId())));

    assertEquals(6, updates.size(), updates.toString());
    assertTransition(updates.get(0), TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING,
        TaskState.TASK_STATE_IMAGE_SNAPSHOT);
    assertTransition(updates.get(1), TaskState.TASK_STATE_IMAGE_SNAPSHOT,
        TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD);
    assertTransition(updates.get(2), TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
        TaskState.TASK_STATE_IMAGE_UPLOADING);
    assertTrue(updates.get(3).hasProgress());
    assertEquals(AgentSimulator.SNAPSHOT_BYTES, updates.get(4).getProgress().getBytesDone());
    assertEquals(AgentSimulator.SNAPSHOT_BYTES, updates.get(4).getProgress().getBytesTotal());
    for (TaskUpdate update : updates) {
      assertEquals("op-1", update.getOperationId());
      assertTrue(update.hasTime());
    }
    TaskUpdate last = updates.get(5);
    assertTrue(last.hasResult());
    assertEquals(PowerState.POWER_STATE_RUNNING, last.getResult().getPowerState());
    SnapshotResult result = last.getResult().getSnapshot();
    assertEquals(queued.getId(), result.getImageId());
    assertTrue(result.getLive());
    assertEquals(32, result.getChecksum().length());
    assertEquals(128, result.getOsHashValue().length());

    Image active = imagesStub.getImage(
        GetImageRequest.newBuilder().setImageId(queued.getId()).build()).getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, active.getStatus());
    assertEquals(result.getVirtualSize(), active.getVirtualSize(),
        "the simulator uploaded the disk it reports");
  }

  @Test
  void coldSnapshotWhenLiveIsNotAllowedAndGuestStaysRunning() {
    String uuid = runningInstance();
    Image queued = createImage("snap-cold");

    List<TaskUpdate> updates = drain(agentStub.snapshot(
        snapshot("op-cold", uuid, queued.getId()).toBuilder().setAllowLive(false).build()));

    TaskUpdate last = updates.get(updates.size() - 1);
    assertFalse(last.getResult().getSnapshot().getLive());
    assertEquals(PowerState.POWER_STATE_RUNNING, last.getResult().getPowerState());
    assertEquals(PowerState.POWER_STATE_RUNNING, agent.powerState(uuid).orElseThrow());
  }

  @Test
  void failAtEndsTheStreamWithTheStatusAfterThatManyUpdatesAndTheFailureIsReplayed() {
    String uuid = runningInstance();
    Image queued = createImage("snap-2");
    agent.failAt("Snapshot", 2, Status.INTERNAL.withDescription("qemu-img convert failed"));

    List<TaskUpdate> received = new ArrayList<>();
    StatusRuntimeException error = assertThrows(StatusRuntimeException.class,
        () -> agentStub.snapshot(snapshot("op-2", uuid, queued.getId())).forEachRemaining(received::add));

    assertEquals(2, received.size());
    assertEquals(Status.Code.INTERNAL, error.getStatus().getCode());
    assertEquals("qemu-img convert failed", error.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED,
        gateway.image(queued.getId()).orElseThrow().getStatus());

    // Same operation_id: the recorded failure, not a new run (the fault was one-shot).
    List<TaskUpdate> replayed = new ArrayList<>();
    StatusRuntimeException again = assertThrows(StatusRuntimeException.class,
        () -> agentStub.snapshot(snapshot("op-2", uuid, queued.getId())).forEachRemaining(replayed::add));
    assertEquals(received, replayed);
    assertEquals(Status.Code.INTERNAL, again.getStatus().getCode());
    assertEquals(2, agent.callCount("Snapshot"));
    assertEquals(1, agent.executionCount("Snapshot"));
  }

  @Test
  void failureDuringUploadPutsTheImageBackToQueued() {
    String uuid = runningInstance();
    Image queued = createImage("snap-3");
    agent.failAt("Snapshot", 4, Status.UNAVAILABLE.withDescription("image-gateway unreachable"));

    StatusRuntimeException error = assertThrows(StatusRuntimeException.class,
        () -> drain(agentStub.snapshot(snapshot("op-3", uuid, queued.getId()))));

    assertEquals(Status.Code.UNAVAILABLE, error.getStatus().getCode());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED,
        gateway.image(queued.getId()).orElseThrow().getStatus());
  }

  @Test
  void repeatedOperationIdReplaysWithoutRunningTheWorkAgain() {
    String uuid = runningInstance();
    PowerOffRequest request = PowerOffRequest.newBuilder()
        .setOperationId("op-off").setInstance(spec(uuid)).build();

    List<TaskUpdate> first = drain(agentStub.powerOff(request));
    assertEquals(PowerState.POWER_STATE_SHUTDOWN, agent.powerState(uuid).orElseThrow());

    agent.setPowerState(uuid, PowerState.POWER_STATE_RUNNING);
    List<TaskUpdate> second = drain(agentStub.powerOff(request));

    assertEquals(first, second);
    assertEquals(PowerState.POWER_STATE_RUNNING, agent.powerState(uuid).orElseThrow(),
        "the replay must not power the guest off again");
    assertEquals(2, agent.callCount("PowerOff"));
    assertEquals(1, agent.executionCount("PowerOff"));
    assertEquals(List.of(new AgentSimulator.Call("PowerOff", "op-off", uuid),
        new AgentSimulator.Call("PowerOff", "op-off", uuid)), agent.calls());
  }

  @Test
  void repeatedOperationIdReattachesToTheRunningOperation() {
    String uuid = runningInstance();
    Image queued = createImage("snap-attach");
    AgentSimulator.Gate gate = agent.blockAt("Snapshot", 3);
    agent.delayBetweenUpdates(Duration.ofMillis(5));
    SnapshotRequest request = snapshot("op-attach", uuid, queued.getId());

    Iterator<TaskUpdate> first = agentStub.snapshot(request);
    assertTrue(gate.awaitReached(WAIT));
    Iterator<TaskUpdate> second = agentStub.snapshot(request);
    assertEquals(ImageStatus.IMAGE_STATUS_SAVING,
        gateway.image(queued.getId()).orElseThrow().getStatus());
    gate.release();

    List<TaskUpdate> fromFirst = drain(first);
    assertEquals(fromFirst, drain(second));
    assertEquals(6, fromFirst.size());
    assertEquals(1, agent.executionCount("Snapshot"));
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE,
        gateway.image(queued.getId()).orElseThrow().getStatus());
  }

  @Test
  void hardRebootStreamsItsTransitions() {
    String uuid = runningInstance();

    List<TaskUpdate> updates = drain(agentStub.reboot(RebootRequest.newBuilder()
        .setOperationId("op-reboot").setInstance(spec(uuid)).setType(RebootType.REBOOT_TYPE_HARD)
        .build()));

    assertEquals(3, updates.size());
    assertTransition(updates.get(0), TaskState.TASK_STATE_REBOOTING_HARD,
        TaskState.TASK_STATE_REBOOT_PENDING_HARD);
    assertTransition(updates.get(1), TaskState.TASK_STATE_REBOOT_PENDING_HARD,
        TaskState.TASK_STATE_REBOOT_STARTED_HARD);
    assertEquals(PowerState.POWER_STATE_RUNNING, updates.get(2).getResult().getPowerState());
  }

  @Test
  void blockedOperationIsVisibleAndCancelOperationEndsItWithCancelled() {
    String uuid = runningInstance();
    Image queued = createImage("snap-4");
    AgentSimulator.Gate gate = agent.blockAt("Snapshot", 1);

    Iterator<TaskUpdate> stream = agentStub.snapshot(snapshot("op-4", uuid, queued.getId()));
    assertTrue(stream.next().hasTransition());
    assertTrue(gate.awaitReached(WAIT));
    assertEquals(List.of("op-4"),
        agentStub.listInstances(ListInstancesRequest.getDefaultInstance()).getRunningOperationIdsList());

    agentStub.cancelOperation(CancelOperationRequest.newBuilder().setOperationId("op-4").build());

    StatusRuntimeException error = assertThrows(StatusRuntimeException.class, stream::hasNext);
    assertEquals(Status.Code.CANCELLED, error.getStatus().getCode());
    StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class,
        () -> agentStub.cancelOperation(
            CancelOperationRequest.newBuilder().setOperationId("op-4").build()));
    assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
  }

  @Test
  void callerGoingAwayDoesNotStopTheOperationAndAReattachFinishesIt() throws Exception {
    String uuid = runningInstance();
    Image queued = createImage("snap-5");
    AgentSimulator.Gate gate = agent.blockAt("Snapshot", 2);

    Context.CancellableContext context = Context.current().withCancellation();
    Iterator<TaskUpdate> stream = context.call(
        () -> agentStub.snapshot(snapshot("op-5", uuid, queued.getId())));
    assertTrue(gate.awaitReached(WAIT));
    context.cancel(null);
    StatusRuntimeException callerSide = assertThrows(StatusRuntimeException.class,
        () -> drain(stream));
    assertEquals(Status.Code.CANCELLED, callerSide.getStatus().getCode());

    // The work is still running on the agent; re-attaching with the same id continues it.
    assertEquals(1, agentStub.listInstances(ListInstancesRequest.getDefaultInstance())
        .getRunningOperationIdsCount());
    Iterator<TaskUpdate> reattached = agentStub.snapshot(snapshot("op-5", uuid, queued.getId()));
    gate.release();
    List<TaskUpdate> updates = drain(reattached);
    assertTrue(updates.get(updates.size() - 1).hasResult(), updates.toString());
    assertEquals(1, agent.executionCount("Snapshot"), "the work ran once");
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE,
        gateway.image(queued.getId()).orElseThrow().getStatus());
  }

  @Test
  void brokenStreamIsUnavailableAndARetryRunsTheWorkAgain() {
    String uuid = runningInstance();
    PowerOffRequest request = PowerOffRequest.newBuilder()
        .setOperationId("op-break").setInstance(spec(uuid)).build();
    agent.breakStreamAt("PowerOff", 0);

    StatusRuntimeException error = assertThrows(StatusRuntimeException.class,
        () -> drain(agentStub.powerOff(request)));
    assertEquals(Status.Code.UNAVAILABLE, error.getStatus().getCode());
    assertEquals("agent connection lost", error.getStatus().getDescription());
    assertEquals(PowerState.POWER_STATE_RUNNING, agent.powerState(uuid).orElseThrow());

    drain(agentStub.powerOff(request));
    assertEquals(2, agent.executionCount("PowerOff"));
    assertEquals(PowerState.POWER_STATE_SHUTDOWN, agent.powerState(uuid).orElseThrow());
  }

  @Test
  void snapshotOfAnUnknownInstanceIsNotFound() {
    StatusRuntimeException error = assertThrows(StatusRuntimeException.class,
        () -> drain(agentStub.snapshot(snapshot("op-6", "nope", UUID.randomUUID().toString()))));
    assertEquals(Status.Code.NOT_FOUND, error.getStatus().getCode());
    assertEquals(0, agent.executionCount("Snapshot"));
  }

  @Test
  void agentInfoDescribesTheFake() {
    GetAgentInfoResponse info = agentStub.getAgentInfo(GetAgentInfoRequest.getDefaultInstance());
    assertEquals("compute-1", info.getHost());
    assertEquals("fake-1", info.getAgentVersion());
    assertEquals(List.of("stratus.agent.v1"), info.getContractVersionsList());
    assertEquals("fake", info.getCapabilities().getHypervisor());
    assertTrue(info.getCapabilities().getLiveSnapshot());
    assertEquals(2, info.getCapabilities().getMaxConcurrentSnapshots());
  }

  @Test
  void anInjectedGatewayFailureFailsOneCallAndCreatesNothing() {
    int before = gateway.createCount();
    gateway.failNextCreate(Status.UNAVAILABLE.withDescription("backend down"));
    StatusRuntimeException injected = assertThrows(StatusRuntimeException.class,
        () -> createImage("refused"));
    assertEquals(Status.Code.UNAVAILABLE, injected.getStatus().getCode());
    assertEquals("backend down", injected.getStatus().getDescription());
    assertTrue(gateway.images().isEmpty());
    Image next = createImage("accepted");
    assertEquals(List.of(next.getId()), gateway.images().stream().map(Image::getId).toList());
    assertEquals(before + 2, gateway.createCount());

    gateway.failNextDelete(Status.UNAVAILABLE.withDescription("backend down"));
    DeleteImageRequest delete = DeleteImageRequest.newBuilder().setImageId(next.getId()).build();
    assertThrows(StatusRuntimeException.class, () -> imagesStub.deleteImage(delete));
    assertTrue(gateway.image(next.getId()).isPresent(), "the failed delete deleted nothing");
    imagesStub.deleteImage(delete);
    assertTrue(gateway.wasDeleted(next.getId()));
  }

  // ---------------------------------------------------------------- helpers

  private String runningInstance() {
    String uuid = UUID.randomUUID().toString();
    agent.setPowerState(uuid, PowerState.POWER_STATE_RUNNING);
    return uuid;
  }

  private Image createImage(String name) {
    return imagesStub.createImage(CreateImageRequest.newBuilder()
        .setName(name).setDiskFormat("qcow2").setContainerFormat("bare").build()).getImage();
  }

  private static InstanceSpec spec(String uuid) {
    return InstanceSpec.newBuilder().setUuid(uuid).setName("vm").setVcpus(1).setMemoryMb(512)
        .setRootGb(1).build();
  }

  private static SnapshotRequest snapshot(String operationId, String uuid, String imageId) {
    return SnapshotRequest.newBuilder().setOperationId(operationId).setInstance(spec(uuid))
        .setImageId(imageId).setImageName("snap").setAllowLive(true).build();
  }

  private static List<TaskUpdate> drain(Iterator<TaskUpdate> stream) {
    List<TaskUpdate> updates = new ArrayList<>();
    stream.forEachRemaining(updates::add);
    return updates;
  }

  private static void assertTransition(TaskUpdate update, TaskState expected, TaskState next) {
    assertTrue(update.hasTransition(), update.toString());
    assertEquals(expected, update.getTransition().getExpected());
    assertEquals(next, update.getTransition().getTaskState());
  }
}
