package io.stratus.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.agent.quiesce.GuestFreeze;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.SnapshotVolumesRequest;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.proto.agent.v1.Volume;
import io.stratus.proto.agent.v1.VolumeSnapshotsResult;
import io.stratus.testkit.CephCluster;
import io.stratus.testkit.Libvirt;
import io.stratus.testkit.QgaStub;
import io.stratus.testkit.RelayGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Quiesced snapshots of a volume-backed guest whose qemu guest agent is a STUB: no OS with
 * a real qemu-ga runs in the test guest, so a tiny Linux guest (testkit {@link RelayGuest})
 * relays its {@code org.qemu.guest_agent.0} port to a unix-socket {@link QgaStub} that
 * answers guest-fsfreeze-freeze/thaw. Everything else is real: the agent freezes through
 * libvirt's virDomainFSFreeze, libvirtd, qemu and the guest's virtio-serial port carry it,
 * and the three volumes are RBD images on a throwaway Ceph cluster opened by qemu.
 */
class QuiesceWithGuestAgentStubTest {
  static CephCluster ceph;
  static Path root;
  static Path clientConf;
  static AgentHarness h;
  static QgaStub stub;
  static InstanceSpec instance;
  static String domainName;

  @BeforeAll
  static void start() throws Exception {
    String uri = Libvirt.ensureRunning();
    ceph = CephCluster.start();
    root = Libvirt.scratchDir("agent-quiesce");
    clientConf = ceph.writeClientConf(root);
    h = new AgentHarness(new LibvirtHypervisor(uri), root,
        Map.of("ceph.conf", clientConf.toString(), "ceph.pool", ceph.diskPool()));
    stub = QgaStub.start(root.resolve("qga.sock"));

    String uuid = UUID.randomUUID().toString();
    // Volume-backed: no base image is ever fetched; the ref is only a well-formed id.
    InstanceSpec.Builder spec = AgentHarness.instance(UUID.randomUUID().toString()).toBuilder()
        .setUuid(uuid)
        .setGuestAgent(true);
    List<String> disks = new ArrayList<>();
    String[] devices = {"vda", "vdb", "vdc"};
    for (int n = 0; n < devices.length; n++) {
      String id = UUID.randomUUID().toString();
      String image = "volume-" + id;
      rbd("create", "--size", "16M", ceph.diskPool() + "/" + image);
      spec.addVolumes(Volume.newBuilder().setId(id).setPool(ceph.diskPool()).setImage(image)
          .setDevice(devices[n]).setBootIndex(n == 0 ? 0 : -1));
      disks.add("<disk type='network' device='disk'><driver name='qemu' type='raw' cache='writeback'/>"
          + "<source protocol='rbd' name='" + ceph.diskPool() + "/" + image + "'><config file='"
          + clientConf + "'/></source><target dev='" + devices[n] + "' bus='virtio'/></disk>");
    }
    instance = spec.build();
    domainName = Libvirt.TEST_DOMAIN_PREFIX + "quiesce-" + uuid.substring(0, 8);
    Path xml = root.resolve("relay-guest.xml");
    Files.writeString(xml, RelayGuest.domainXml(domainName, uuid, disks, stub.socket()));
    Libvirt.virsh("create", xml.toString());
    awaitAgentConnected(Duration.ofSeconds(90));
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      Libvirt.virshResult("destroy", domainName);
      if (stub != null) {
        stub.close();
      }
      if (h != null) {
        h.close();
      }
    } finally {
      if (ceph != null) {
        ceph.close();
      }
    }
  }

  /** libvirt marks the agent channel connected once the guest opened its port. */
  private static void awaitAgentConnected(Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      String xml = Libvirt.virsh("dumpxml", domainName);
      if (xml.contains("name='org.qemu.guest_agent.0' state='connected'")) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("the relay guest's agent channel did not connect within " + timeout
        + "; console: " + Files.readString(RelayGuest.consoleLog(domainName, stub.socket())));
  }

  private static String rbd(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("rbd", "-c", ceph.conf().toString()));
    cmd.addAll(List.of(args));
    return AgentHarness.run(cmd.toArray(String[]::new));
  }

  private static String snapshotsOfVolumes() throws Exception {
    StringBuilder all = new StringBuilder();
    for (Volume v : instance.getVolumesList()) {
      all.append(rbd("snap", "ls", v.getPool() + "/" + v.getImage()));
    }
    return all.toString();
  }

  private static SnapshotVolumesRequest request(String snap, boolean require) {
    return SnapshotVolumesRequest.newBuilder().setOperationId("vsnap-" + UUID.randomUUID())
        .setInstance(instance).setSnapshotName(snap).setRequireQuiesce(require).build();
  }

  private static List<String> commandsSince(int from) {
    List<QgaStub.Command> all = stub.commands();
    return all.subList(from, all.size()).stream().map(QgaStub.Command::execute)
        .filter(c -> !c.equals("guest-sync") && !c.equals("guest-ping")).toList();
  }

  @Test
  void theGuestIsFrozenForTheVolumeSnapshotsAndThawedRightAfter() throws Exception {
    int before = stub.commands().size();
    List<TaskUpdate> updates = AgentHarness.drain(h.stub().snapshotVolumes(request("quiesced", false)));

    VolumeSnapshotsResult r = updates.get(updates.size() - 1).getResult().getVolumeSnapshots();
    assertTrue(r.getQuiesced(), r.toString());
    assertEquals("", r.getQuiesceError());
    assertEquals(3, r.getSnapshotsCount());
    assertEquals(List.of("guest-fsfreeze-freeze", "guest-fsfreeze-thaw"), commandsSince(before));
    assertFalse(stub.frozen(), "thawed");
    assertFalse(Files.exists(h.root.resolve("instances").resolve(instance.getUuid())
        .resolve(GuestFreeze.MARKER)), "no freeze marker left");
    assertTrue(r.getFrozenMs() > 0, "frozen time is measured: " + r.getFrozenMs());
    System.out.printf("[bench] guest frozen for a quiesced snapshot of 3 RBD volumes: %d ms"
        + " (goal <= 1000 ms)%n", r.getFrozenMs());
    assertEquals(3, snapshotsOfVolumes().split("quiesced", -1).length - 1);
  }

  @Test
  void aRefusedFreezeIsToleratedButNotWhenQuiesceIsRequired() throws Exception {
    stub.failNext("guest-fsfreeze-freeze", "injected: fsfreeze refused");
    List<TaskUpdate> updates = AgentHarness.drain(h.stub().snapshotVolumes(request("tolerated", false)));
    VolumeSnapshotsResult r = updates.get(updates.size() - 1).getResult().getVolumeSnapshots();
    assertFalse(r.getQuiesced());
    assertTrue(r.getQuiesceError().contains("injected: fsfreeze refused"), r.getQuiesceError());
    assertEquals(3, r.getSnapshotsCount(), "crash-consistent snapshots are still taken");
    assertFalse(stub.frozen());

    stub.failNext("guest-fsfreeze-freeze", "injected: fsfreeze refused");
    var e = assertThrows(StatusRuntimeException.class,
        () -> AgentHarness.drain(h.stub().snapshotVolumes(request("required", true))));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().contains("injected: fsfreeze refused"),
        e.getStatus().getDescription());
    assertFalse(snapshotsOfVolumes().contains("required"), "nothing kept");
    assertFalse(stub.frozen());
  }

  @Test
  void theFreezeTimeoutThawsAGuestWhoseSnapshotHangs() throws Exception {
    Path dir = h.root.resolve("instances").resolve(instance.getUuid());
    int before = stub.commands().size();
    // The work between freeze and thaw "hangs" (nobody closes the freeze for 3 s).
    GuestFreeze freeze = GuestFreeze.freeze(h.hypervisor, instance.getUuid(), dir,
        Duration.ofSeconds(10), Duration.ofSeconds(1));
    try {
      assertTrue(stub.frozen());
      assertTrue(Files.exists(dir.resolve(GuestFreeze.MARKER)));
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (stub.frozen() && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      assertFalse(stub.frozen(), "thawed by the timer");
      assertTrue(freeze.autoThawed());
      assertTrue(freeze.frozenMillis() >= 900, "frozen until the timeout: " + freeze.frozenMillis());
      assertFalse(Files.exists(dir.resolve(GuestFreeze.MARKER)));
    } finally {
      freeze.close();
    }
    assertEquals(List.of("guest-fsfreeze-freeze", "guest-fsfreeze-thaw"), commandsSince(before),
        "closing after the timer does not thaw twice");
  }

  @Test
  void aGuestLeftFrozenByACrashedAgentIsThawedWhenTheAgentStartsAgain() throws Exception {
    // What an agent killed between freeze and thaw leaves: a frozen guest and the marker.
    Path dir = Files.createDirectories(h.root.resolve("instances").resolve(instance.getUuid()));
    Files.writeString(dir.resolve(GuestFreeze.MARKER), instance.getUuid() + "\n");
    Libvirt.virsh("domfsfreeze", domainName);
    assertTrue(stub.frozen());
    int before = stub.commands().size();

    // A new agent process on the same host (same instances directory) starts up.
    try (AgentHarness restarted = new AgentHarness(new LibvirtHypervisor(Libvirt.ensureRunning()),
        root, Map.of("ceph.conf", clientConf.toString(), "ceph.pool", ceph.diskPool()))) {
      assertFalse(stub.frozen(), "the starting agent thawed the guest");
      assertEquals(List.of("guest-fsfreeze-thaw"), commandsSince(before));
      assertFalse(Files.exists(dir.resolve(GuestFreeze.MARKER)));
    }
  }
}
