package io.stratus.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.agent.quiesce.GuestFreeze;
import io.stratus.agent.tasks.SnapshotTask;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.SnapshotRequest;
import io.stratus.proto.agent.v1.SnapshotResult;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.testkit.Libvirt;
import io.stratus.testkit.QgaStub;
import io.stratus.testkit.RelayGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Quiesced live snapshots of a LOCAL disk (issue 13: they never quiesced before), through a
 * guest agent STUB: the tiny relay guest (testkit {@link RelayGuest}) runs on a local qcow2
 * vda and relays its {@code org.qemu.guest_agent.0} port to a {@link QgaStub}. The agent
 * freezes through libvirt's virDomainFSFreeze for the moment the external disk-only
 * snapshot is made, and thaws right after; the upload runs with the guest thawed.
 */
class LocalQuiesceWithGuestAgentStubTest {
  static Path root;
  static AgentHarness h;
  static QgaStub stub;
  static InstanceSpec instance;
  static String domainName;

  @BeforeAll
  static void start() throws Exception {
    String uri = Libvirt.ensureRunning();
    root = Libvirt.scratchDir("agent-local-quiesce");
    h = new AgentHarness(new LibvirtHypervisor(uri), root, Map.of());
    stub = QgaStub.start(root.resolve("qga.sock"));
    String uuid = UUID.randomUUID().toString();
    instance = AgentHarness.instance(UUID.randomUUID().toString()).toBuilder().setUuid(uuid)
        .setGuestAgent(true).build();
    Path dir = Files.createDirectories(root.resolve("instances").resolve(uuid));
    Path disk = dir.resolve("disk");
    AgentHarness.run("qemu-img", "create", "-q", "-f", "qcow2", disk.toString(), "64M");
    AgentHarness.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x51 1M 2M", disk.toString());
    domainName = Libvirt.TEST_DOMAIN_PREFIX + "lquiesce-" + uuid.substring(0, 8);
    Path xml = root.resolve("relay-guest.xml");
    Files.writeString(xml, RelayGuest.domainXml(domainName, uuid, List.of(
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='"
            + disk + "'/><target dev='vda' bus='virtio'/></disk>"), stub.socket()));
    Libvirt.virsh("create", xml.toString());
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (!Libvirt.virsh("dumpxml", domainName)
        .contains("name='org.qemu.guest_agent.0' state='connected'")) {
      assertTrue(System.nanoTime() < deadline, "the relay guest's agent channel never connected");
      Thread.sleep(200);
    }
  }

  @AfterAll
  static void stop() throws Exception {
    Libvirt.virshResult("destroy", domainName);
    if (stub != null) {
      stub.close();
    }
    if (h != null) {
      h.close();
    }
  }

  private static String queuedImage() {
    return h.images().createImage(CreateImageRequest.newBuilder().setName("quiesced")
        .setDiskFormat("raw").setContainerFormat("bare").build()).getImage().getId();
  }

  private static SnapshotRequest request(String imageId, boolean require) {
    return SnapshotRequest.newBuilder().setOperationId("snap-" + UUID.randomUUID())
        .setInstance(instance).setImageId(imageId).setAllowLive(true)
        .setRequireQuiesce(require).build();
  }

  private static List<String> commandsSince(int from) {
    List<QgaStub.Command> all = stub.commands();
    return all.subList(from, all.size()).stream().map(QgaStub.Command::execute)
        .filter(c -> !c.equals("guest-sync") && !c.equals("guest-ping")).toList();
  }

  private static void assertRunningWithoutOverlay() throws Exception {
    assertEquals(Hypervisor.Power.RUNNING, h.hypervisor.find(instance.getUuid()).orElseThrow().power());
    assertEquals(List.of(), AgentHarness.filesContaining(root.resolve("instances"),
        SnapshotTask.OVERLAY_MARK));
    assertFalse(Libvirt.virsh("dumpxml", domainName).contains(SnapshotTask.OVERLAY_MARK),
        "the guest writes to its own disk again");
    assertFalse(stub.frozen(), "thawed");
    assertFalse(Files.exists(root.resolve("instances").resolve(instance.getUuid())
        .resolve(GuestFreeze.MARKER)), "no freeze marker left");
  }

  @Test
  void theGuestIsFrozenOnlyWhileItsDiskIsMadeImmutable() throws Exception {
    int before = stub.commands().size();
    String imageId = queuedImage();
    List<TaskUpdate> updates = AgentHarness.drain(h.stub().snapshot(request(imageId, false)));
    SnapshotResult r = updates.get(updates.size() - 1).getResult().getSnapshot();
    assertTrue(r.getLive());
    assertTrue(r.getQuiesced(), r.toString());
    assertEquals("", r.getQuiesceError());
    assertTrue(r.getFrozenMs() > 0, "frozen time is measured");
    assertEquals(List.of("guest-fsfreeze-freeze", "guest-fsfreeze-thaw"), commandsSince(before));
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, h.images().getImage(
        GetImageRequest.newBuilder().setImageId(imageId).build()).getImage().getStatus());
    assertRunningWithoutOverlay();
    System.out.printf("[bench] guest frozen for a quiesced live snapshot of a local disk: %d ms%n",
        r.getFrozenMs());
  }

  @Test
  void aRefusedFreezeIsToleratedButFailsTheSnapshotWhenQuiesceIsRequired() throws Exception {
    stub.failNext("guest-fsfreeze-freeze", "injected: fsfreeze refused");
    String tolerated = queuedImage();
    List<TaskUpdate> updates = AgentHarness.drain(h.stub().snapshot(request(tolerated, false)));
    SnapshotResult r = updates.get(updates.size() - 1).getResult().getSnapshot();
    assertFalse(r.getQuiesced());
    assertTrue(r.getQuiesceError().contains("injected: fsfreeze refused"), r.getQuiesceError());
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, h.images().getImage(
        GetImageRequest.newBuilder().setImageId(tolerated).build()).getImage().getStatus(),
        "a crash-consistent snapshot is still taken");
    assertRunningWithoutOverlay();

    stub.failNext("guest-fsfreeze-freeze", "injected: fsfreeze refused");
    String required = queuedImage();
    var e = assertThrows(StatusRuntimeException.class,
        () -> AgentHarness.drain(h.stub().snapshot(request(required, true))));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().contains("injected: fsfreeze refused"),
        e.getStatus().getDescription());
    assertEquals(ImageStatus.IMAGE_STATUS_QUEUED, h.images().getImage(
        GetImageRequest.newBuilder().setImageId(required).build()).getImage().getStatus(),
        "nothing was uploaded");
    assertRunningWithoutOverlay();
  }
}
