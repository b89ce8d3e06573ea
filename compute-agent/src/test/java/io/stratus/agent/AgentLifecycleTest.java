package io.stratus.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.proto.agent.v1.CancelOperationRequest;
import io.stratus.proto.agent.v1.DestroyRequest;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.ListInstancesRequest;
import io.stratus.proto.agent.v1.PowerOffRequest;
import io.stratus.proto.agent.v1.PowerOnRequest;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.agent.v1.RebootRequest;
import io.stratus.proto.agent.v1.RebootType;
import io.stratus.proto.agent.v1.SnapshotRequest;
import io.stratus.proto.agent.v1.SpawnRequest;
import io.stratus.proto.agent.v1.TaskState;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.ImageStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's task logic against libvirt's {@code test:///default} driver (in-process, no
 * daemon) with the real image-gateway: boot, power off/on, hard reboot, a snapshot (the
 * test driver has no disk-only snapshots, so it is taken cold with real bytes from the
 * instance's qcow2 disk), destroy; idempotent operation ids; errors.
 */
class AgentLifecycleTest {
  @TempDir static Path root;

  static AgentHarness h;
  static String baseImage;

  @BeforeAll
  static void start() throws Exception {
    h = new AgentHarness(new LibvirtHypervisor("test:///default"), root, Map.of());
    baseImage = h.seedBaseImage(16L << 20, 1).getId();
  }

  @AfterAll
  static void stop() throws Exception {
    h.close();
  }

  private static String op() {
    return "req-" + UUID.randomUUID();
  }

  private static List<TaskUpdate> spawn(InstanceSpec i, String op) {
    return AgentHarness.drain(h.stub().spawn(
        SpawnRequest.newBuilder().setOperationId(op).setInstance(i).build()));
  }

  private static InstanceSpec running() {
    InstanceSpec i = AgentHarness.instance(baseImage);
    spawn(i, op());
    return i;
  }

  private static PowerState lastPower(List<TaskUpdate> updates) {
    return updates.get(updates.size() - 1).getResult().getPowerState();
  }

  @Test
  void spawnBuildsAnOverlayOnTheCachedBaseAndRunsTheDomain() throws Exception {
    InstanceSpec i = AgentHarness.instance(baseImage);
    List<TaskUpdate> updates = spawn(i, op());
    assertEquals(PowerState.POWER_STATE_RUNNING, lastPower(updates));
    assertEquals(Hypervisor.Power.RUNNING, h.hypervisor.find(i.getUuid()).orElseThrow().power());
    Path disk = root.resolve("instances").resolve(i.getUuid()).resolve("disk");
    String info = AgentHarness.run("qemu-img", "info", "-U", disk.toString());
    assertTrue(info.contains("file format: qcow2"), info);
    assertTrue(info.contains("backing file: " + root.resolve("cache").resolve(baseImage + ".raw")), info);
    // The base was checked and cached once; a second instance reuses it.
    spawn(AgentHarness.instance(baseImage), op());
    assertEquals(1, AgentHarness.filesContaining(root.resolve("cache"), baseImage).size());
  }

  @Test
  void aRepeatedOperationIdReplaysInsteadOfRunningTwice() {
    InstanceSpec i = AgentHarness.instance(baseImage);
    String id = op();
    List<TaskUpdate> first = spawn(i, id);
    List<TaskUpdate> again = spawn(i, id);
    assertEquals(first, again, "the same updates, timestamps included: a replay, not a re-run");
    var wrongRpc = assertThrows(StatusRuntimeException.class, () -> AgentHarness.drain(h.stub()
        .destroy(DestroyRequest.newBuilder().setOperationId(id).setInstance(i).build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, wrongRpc.getStatus().getCode());
    assertEquals("operation_id: " + id + " already names a Spawn operation",
        wrongRpc.getStatus().getDescription());
  }

  @Test
  void powerOffPowerOnAndHardRebootReachTheirStates() {
    InstanceSpec i = running();
    var off = AgentHarness.drain(h.stub().powerOff(PowerOffRequest.newBuilder()
        .setOperationId(op()).setInstance(i).setCleanShutdownTimeoutSeconds(5).build()));
    assertEquals(PowerState.POWER_STATE_SHUTDOWN, lastPower(off));
    assertEquals(Hypervisor.Power.SHUTDOWN, h.hypervisor.find(i.getUuid()).orElseThrow().power());

    var on = AgentHarness.drain(h.stub().powerOn(
        PowerOnRequest.newBuilder().setOperationId(op()).setInstance(i).build()));
    assertEquals(PowerState.POWER_STATE_RUNNING, lastPower(on));

    var reboot = AgentHarness.drain(h.stub().reboot(RebootRequest.newBuilder()
        .setOperationId(op()).setInstance(i).setType(RebootType.REBOOT_TYPE_HARD).build()));
    assertEquals(List.of(TaskState.TASK_STATE_REBOOT_PENDING_HARD, TaskState.TASK_STATE_REBOOT_STARTED_HARD),
        reboot.stream().filter(TaskUpdate::hasTransition).map(u -> u.getTransition().getTaskState()).toList());
    assertEquals(PowerState.POWER_STATE_RUNNING, lastPower(reboot));
    assertEquals(Hypervisor.Power.RUNNING, h.hypervisor.find(i.getUuid()).orElseThrow().power());
  }

  @Test
  void aSoftRebootShutsTheGuestDownCleanlyAndStartsItAgain() throws Exception {
    InstanceSpec i = running();
    var soft = AgentHarness.drain(h.stub().reboot(RebootRequest.newBuilder()
        .setOperationId(op()).setInstance(i).setType(RebootType.REBOOT_TYPE_SOFT)
        .setCleanShutdownTimeoutSeconds(10).build()));
    assertEquals(List.of(TaskState.TASK_STATE_REBOOT_PENDING, TaskState.TASK_STATE_REBOOT_STARTED),
        soft.stream().filter(TaskUpdate::hasTransition).map(u -> u.getTransition().getTaskState())
            .toList());
    var result = soft.get(soft.size() - 1).getResult();
    assertEquals(PowerState.POWER_STATE_RUNNING, result.getPowerState());
    assertEquals("soft reboot", result.getDetails(), "the test driver's guest obeys ACPI");
    assertEquals(Hypervisor.Power.RUNNING, h.hypervisor.find(i.getUuid()).orElseThrow().power());

    var badTimeout = assertThrows(StatusRuntimeException.class, () -> AgentHarness.drain(
        h.stub().reboot(RebootRequest.newBuilder().setOperationId(op()).setInstance(i)
            .setType(RebootType.REBOOT_TYPE_SOFT).setCleanShutdownTimeoutSeconds(-1).build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, badTimeout.getStatus().getCode());
    assertTrue(badTimeout.getStatus().getDescription().contains("clean_shutdown_timeout_seconds"));
  }

  @Test
  void aColdSnapshotStreamsTheDisksGuestVisibleBytesAndRestoresTheGuest() throws Exception {
    InstanceSpec i = running();
    Path disk = root.resolve("instances").resolve(i.getUuid()).resolve("disk");
    // Put real bytes into the instance's own overlay, over the base image's data.
    AgentHarness.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 2M", disk.toString());
    String imageId = h.images().createImage(CreateImageRequest.newBuilder().setName("snap")
        .setDiskFormat("raw").setContainerFormat("bare").build()).getImage().getId();
    List<TaskUpdate> updates = AgentHarness.drain(h.stub().snapshot(SnapshotRequest.newBuilder()
        .setOperationId(op()).setInstance(i).setImageId(imageId).setAllowLive(true).build()));

    assertEquals(List.of(TaskState.TASK_STATE_IMAGE_SNAPSHOT, TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
        TaskState.TASK_STATE_IMAGE_UPLOADING),
        updates.stream().filter(TaskUpdate::hasTransition).map(u -> u.getTransition().getTaskState()).toList());
    var result = updates.get(updates.size() - 1).getResult();
    assertFalse(result.getSnapshot().getLive(), "the test driver cannot snapshot disks live");
    assertEquals(PowerState.POWER_STATE_RUNNING, result.getPowerState(), "the guest runs again");
    assertTrue(updates.stream().anyMatch(TaskUpdate::hasProgress));

    var image = h.images().getImage(GetImageRequest.newBuilder().setImageId(imageId).build()).getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    Path expected = AgentHarness.toRaw(disk, root.resolve("expected.raw"));
    Path got = h.download(imageId, root.resolve("got.raw"));
    assertEquals(AgentHarness.sha512(expected), AgentHarness.sha512(got));
    assertEquals(AgentHarness.contentDigest(expected), image.getContentDigest());
    assertTrue(result.getSnapshot().getBytesSent() <= 1.01 * (8L << 20) + (2 << 20),
        "only allocated data is sent: " + result.getSnapshot().getBytesSent());
    assertEquals(Hypervisor.Power.RUNNING, h.hypervisor.find(i.getUuid()).orElseThrow().power());
  }

  @Test
  void destroyRemovesTheDomainAndTheFilesAndIsIdempotent() {
    InstanceSpec i = running();
    for (int n = 0; n < 2; n++) {
      var updates = AgentHarness.drain(h.stub().destroy(
          DestroyRequest.newBuilder().setOperationId(op()).setInstance(i).build()));
      assertEquals(PowerState.POWER_STATE_NOSTATE, lastPower(updates));
    }
    assertTrue(h.hypervisor.find(i.getUuid()).isEmpty());
    assertFalse(Files.exists(root.resolve("instances").resolve(i.getUuid())));
  }

  @Test
  void mistakesAndMissingThingsHaveClearStatuses() throws Exception {
    InstanceSpec ghost = AgentHarness.instance(baseImage);
    var noDomain = assertThrows(StatusRuntimeException.class, () -> AgentHarness.drain(h.stub().snapshot(
        SnapshotRequest.newBuilder().setOperationId(op()).setInstance(ghost).setImageId(UUID.randomUUID().toString()).build())));
    assertEquals(Status.Code.NOT_FOUND, noDomain.getStatus().getCode());
    assertEquals("instance " + ghost.getUuid() + " has no domain on this host",
        noDomain.getStatus().getDescription());

    var noOp = assertThrows(StatusRuntimeException.class, () -> AgentHarness.drain(h.stub().spawn(
        SpawnRequest.newBuilder().setInstance(ghost).build())));
    assertEquals("operation_id: is required", noOp.getStatus().getDescription());

    var badUuid = assertThrows(StatusRuntimeException.class, () -> AgentHarness.drain(h.stub().spawn(
        SpawnRequest.newBuilder().setOperationId(op()).setInstance(ghost.toBuilder().setUuid("x")).build())));
    assertEquals("instance.uuid: 'x' is not a UUID", badUuid.getStatus().getDescription());

    // An image ref names a file in the image cache: a path is refused before anything runs,
    // even one that leads to a real raw file outside the cache.
    Path planted = root.resolve("planted.raw");
    Files.write(planted, new byte[1 << 20]);
    for (String traversal : List.of("../planted", "../../../../etc/passwd\u0000", "/etc/shadow")) {
      InstanceSpec sneaky = ghost.toBuilder().setUuid(UUID.randomUUID().toString())
          .setImageRef(traversal).build();
      var bad = assertThrows(StatusRuntimeException.class, () -> AgentHarness.drain(h.stub().spawn(
          SpawnRequest.newBuilder().setOperationId(op()).setInstance(sneaky).build())));
      assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
      assertTrue(bad.getStatus().getDescription().startsWith("instance.image_ref: '"),
          bad.getStatus().getDescription());
      assertTrue(h.hypervisor.find(sneaky.getUuid()).isEmpty(), "no domain was defined");
      assertFalse(Files.exists(root.resolve("instances").resolve(sneaky.getUuid())));
    }

    var cancel = assertThrows(StatusRuntimeException.class, () -> h.stub().cancelOperation(
        CancelOperationRequest.newBuilder().setOperationId("nope").build()));
    assertEquals(Status.Code.NOT_FOUND, cancel.getStatus().getCode());
  }

  @Test
  void theAgentRegistersAndBeats() throws Exception {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (h.registry.beats.get() < 2 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertFalse(h.registry.registrations.isEmpty());
    var r = h.registry.registrations.get(0);
    assertEquals("test-host", r.getHost());
    assertEquals(List.of("stratus.agent.v1"), r.getContractVersionsList());
    assertTrue(h.registry.beats.get() >= 2);
    assertTrue(h.stub().listInstances(ListInstancesRequest.getDefaultInstance()).getInstancesCount() > 0);
  }
}
