package io.stratus.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.StatusRuntimeException;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.agent.rbd.RbdDisks;
import io.stratus.gateway.store.rbd.RbdBackend;
import io.stratus.proto.agent.v1.DestroyRequest;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.PowerOffRequest;
import io.stratus.proto.agent.v1.PowerOnRequest;
import io.stratus.proto.agent.v1.PowerState;
import io.stratus.proto.agent.v1.RootDiskKind;
import io.stratus.proto.agent.v1.SnapshotRequest;
import io.stratus.proto.agent.v1.SnapshotResult;
import io.stratus.proto.agent.v1.SpawnRequest;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskState;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.proto.image.v1.CreateImageRequest;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.testkit.CephCluster;
import io.stratus.testkit.Libvirt;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Instances whose root disk is an RBD image (Nova {@code images_type=rbd}) on a real
 * throwaway Ceph cluster, run by real qemu guests (TCG) through a real libvirtd, whose
 * own librbd opens the disk. Two agents share the cluster: one whose gateway stores
 * images in that same cluster (copy-on-write boot, direct snapshot) and one whose gateway
 * stores them on the filesystem (import at boot, streamed snapshot). Every test asserts
 * the bytes and that no snapshot of the source disk is left behind.
 */
class RbdInstanceTest {
  static final long BASE_SIZE = 16L << 20;
  static CephCluster ceph;
  static Path root;
  static Path clientConf;
  static FaultyDirectImport directStore;
  static AgentHarness direct;   // gateway on the same Ceph cluster
  static AgentHarness streamed; // gateway on the filesystem
  static String directBase;
  static String streamedBase;
  static Path baseBytes;
  final List<Cleanup> instances = new ArrayList<>();

  record Cleanup(AgentHarness h, InstanceSpec spec) {}

  @BeforeAll
  static void start() throws Exception {
    String uri = Libvirt.ensureRunning();
    ceph = CephCluster.start();
    root = Libvirt.scratchDir("agent-rbd");
    clientConf = ceph.writeClientConf(root);
    Map<String, String> config = Map.of("ceph.conf", clientConf.toString(),
        "ceph.pool", ceph.diskPool(), "read.threads", "4", "rbd.snapshot.retry", "PT0.2S");
    directStore = new FaultyDirectImport(
        new RbdBackend(ceph.conf(), ceph.imagePool(), Clock.systemUTC()));
    direct = new AgentHarness(new LibvirtHypervisor(uri), Files.createDirectories(root.resolve("direct")),
        config, directStore);
    streamed = new AgentHarness(new LibvirtHypervisor(uri),
        Files.createDirectories(root.resolve("streamed")), config);
    directBase = direct.seedBaseImage(BASE_SIZE, 11).getId();
    streamedBase = streamed.seedBaseImage(BASE_SIZE, 11).getId();
    baseBytes = direct.download(directBase, root.resolve("base.raw"));
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (direct != null) {
        direct.close();
      }
      if (streamed != null) {
        streamed.close();
      }
    } finally {
      if (ceph != null) {
        ceph.close();
      }
    }
  }

  @AfterEach
  void destroyInstances() {
    for (Cleanup c : instances) {
      AgentHarness.drain(c.h().stub().destroy(DestroyRequest.newBuilder()
          .setOperationId("cleanup-" + UUID.randomUUID()).setInstance(c.spec()).build()));
    }
  }

  private InstanceSpec boot(AgentHarness h, String imageId) {
    InstanceSpec i = AgentHarness.instance(imageId).toBuilder()
        .setRootDiskKind(RootDiskKind.ROOT_DISK_KIND_RBD).build();
    AgentHarness.drain(h.stub().spawn(SpawnRequest.newBuilder()
        .setOperationId("spawn-" + UUID.randomUUID()).setInstance(i).build()));
    instances.add(new Cleanup(h, i));
    return i;
  }

  private static String queuedImage(AgentHarness h) {
    return h.images().createImage(CreateImageRequest.newBuilder().setName("rbd-snapshot")
        .setDiskFormat("raw").setContainerFormat("bare").build()).getImage().getId();
  }


  /** Snapshots, writing {@code duringPattern} at 3 MiB once the disk snapshot exists. */
  private static List<TaskUpdate> snapshot(AgentHarness h, InstanceSpec i, String imageId,
      int duringPattern) {
    Iterator<TaskUpdate> stream = h.stub().snapshot(SnapshotRequest.newBuilder()
        .setOperationId("snap-" + UUID.randomUUID()).setInstance(i).setImageId(imageId)
        .setAllowLive(true).build());
    List<TaskUpdate> updates = new ArrayList<>();
    while (stream.hasNext()) {
      TaskUpdate u = stream.next();
      updates.add(u);
      if (u.hasTransition()
          && u.getTransition().getTaskState() == TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD) {
        AgentHarness.guestWrite(i, duringPattern, 3L << 20, 1L << 20);
      }
    }
    return updates;
  }

  private static String rbd(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("rbd", "-c", ceph.conf().toString()));
    cmd.addAll(Arrays.asList(args));
    return AgentHarness.run(cmd.toArray(String[]::new));
  }

  private static Path export(String spec, String name) throws Exception {
    Path out = root.resolve(name + "-" + UUID.randomUUID() + ".raw");
    rbd("export", "--no-progress", spec, out.toString());
    return out;
  }

  private static String diskSpec(InstanceSpec i) {
    return ceph.diskPool() + "/" + RbdDisks.diskName(i.getUuid());
  }

  private static void assertNoSnapshotLeft(InstanceSpec i) throws Exception {
    assertEquals("[]", rbd("snap", "ls", "--format", "json", diskSpec(i)).strip(),
        "no snapshot of the instance disk is left behind");
  }

  /** The base image with 0x41 in [1 MiB, 2 MiB): the disk when the snapshot was taken. */
  private static Path expectedAtSnapshot() throws Exception {
    Path expected = root.resolve("expected-" + UUID.randomUUID() + ".raw");
    Files.copy(baseBytes, expected);
    byte[] a = new byte[1 << 20];
    Arrays.fill(a, (byte) 0x41);
    try (RandomAccessFile f = new RandomAccessFile(expected.toFile(), "rw")) {
      f.seek(1L << 20);
      f.write(a);
    }
    return expected;
  }

  private static byte[] read(Path raw, long offset, int length) throws Exception {
    try (RandomAccessFile f = new RandomAccessFile(raw.toFile(), "r")) {
      byte[] b = new byte[length];
      f.seek(offset);
      f.readFully(b);
      return b;
    }
  }

  private static TaskResult result(List<TaskUpdate> updates) {
    return updates.get(updates.size() - 1).getResult();
  }

  @Test
  void copyOnWriteBootThenDirectSnapshotOfARunningGuestWhileItWrites() throws Exception {
    InstanceSpec i = boot(direct, directBase);
    String info = rbd("info", "--format", "json", diskSpec(i));
    assertTrue(info.contains("\"parent\"") && info.contains(directBase + "\"")
        && info.contains("\"snapshot\":\"snap\""), "copy-on-write clone of the image: " + info);
    AgentHarness.guestWrite(i, 0x41, 1L << 20, 1L << 20);  // before: in the image
    String imageId = queuedImage(direct);

    List<TaskUpdate> updates = snapshot(direct, i, imageId, 0x42);

    SnapshotResult r = result(updates).getSnapshot();
    assertEquals(0, r.getBytesSent(), "the direct path sends no bytes");
    assertTrue(r.getLive());
    assertEquals(PowerState.POWER_STATE_RUNNING, result(updates).getPowerState());
    assertEquals(Hypervisor.Power.RUNNING, direct.hypervisor.find(i.getUuid()).orElseThrow().power(),
        "the guest was never paused or stopped");
    Image image = direct.images().getImage(GetImageRequest.newBuilder().setImageId(imageId).build())
        .getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    assertEquals(List.of("rbd://" + ceph.fsid() + "/" + ceph.imagePool() + "/" + imageId + "/snap"),
        image.getLocationsList());
    assertNoSnapshotLeft(i);
    assertFalse(rbd("info", "--format", "json", ceph.imagePool() + "/" + imageId).contains("\"parent\""),
        "the image is flattened: it does not depend on the disk");

    Path expected = expectedAtSnapshot();
    assertEquals(AgentHarness.sha512(expected),
        AgentHarness.sha512(export(ceph.imagePool() + "/" + imageId + "@snap", "image")),
        "the image is the disk at snapshot time");
    Path now = export(diskSpec(i), "now");
    byte[] during = new byte[1 << 20];
    Arrays.fill(during, (byte) 0x42);
    assertArrayEquals(during, read(now, 3L << 20, 1 << 20), "the write during the snapshot was kept");

    InstanceSpec second = boot(direct, imageId);
    assertEquals(AgentHarness.sha512(expected),
        AgentHarness.sha512(export(diskSpec(second), "second")),
        "an instance booted from the snapshot sees the disk at snapshot time");
  }

  @Test
  void theStreamedFallbackReadsTheRbdSnapshotWithoutPausingTheGuest() throws Exception {
    InstanceSpec i = boot(streamed, streamedBase);
    String info = rbd("info", "--format", "json", diskSpec(i));
    assertFalse(info.contains("\"parent\""), "imported, not cloned, from a filesystem store: " + info);
    AgentHarness.guestWrite(i, 0x41, 1L << 20, 1L << 20);
    String imageId = queuedImage(streamed);

    List<TaskUpdate> updates = snapshot(streamed, i, imageId, 0x42);

    SnapshotResult r = result(updates).getSnapshot();
    assertTrue(r.getLive());
    assertTrue(r.getBytesSent() > 0 && r.getBytesSent() <= BASE_SIZE / 2 + (1L << 20),
        "only allocated bytes are sent: " + r.getBytesSent());
    assertEquals(PowerState.POWER_STATE_RUNNING, result(updates).getPowerState());
    assertNoSnapshotLeft(i);
    Path expected = expectedAtSnapshot();
    Path image = streamed.download(imageId, root.resolve("streamed-" + imageId + ".raw"));
    assertEquals(AgentHarness.sha512(expected), AgentHarness.sha512(image));
    assertEquals(AgentHarness.contentDigest(expected), streamed.images().getImage(
        io.stratus.proto.image.v1.GetImageRequest.newBuilder().setImageId(imageId).build())
        .getImage().getContentDigest(), "content digest of the guest-visible content");

    InstanceSpec second = boot(streamed, imageId);
    assertEquals(AgentHarness.sha512(expected),
        AgentHarness.sha512(export(diskSpec(second), "second")));
  }

  @Test
  void aFailedCloneInTheGatewayLeavesNoSourceSnapshotAndTheGuestRunning() throws Exception {
    InstanceSpec i = boot(direct, directBase);
    String imageId = queuedImage(direct);
    directStore.failNextImport(FaultyDirectImport.Fault.BEFORE_CLONE, null);
    var e = assertThrows(StatusRuntimeException.class,
        () -> AgentHarness.drain(direct.stub().snapshot(SnapshotRequest.newBuilder()
            .setOperationId("snap-" + UUID.randomUUID()).setInstance(i).setImageId(imageId)
            .setAllowLive(true).build())));
    assertTrue(e.getStatus().getDescription().contains("injected direct-import failure"),
        e.getStatus().toString());
    assertNoSnapshotLeft(i);
    assertEquals(Hypervisor.Power.RUNNING, direct.hypervisor.find(i.getUuid()).orElseThrow().power());
  }

  @Test
  void aSnapshotHeldByAnUnfinishedCloneIsRemovedOnceTheCloneIsGone() throws Exception {
    InstanceSpec i = boot(direct, directBase);
    String imageId = queuedImage(direct);
    String leftover = ceph.imagePool() + "/" + imageId + ".upload";
    // A real clone of the source snapshot, as a gateway that died mid-flatten leaves it.
    directStore.failNextImport(FaultyDirectImport.Fault.CLONE_LEFT_BEHIND,
        (id, source) -> rbd("clone", source, leftover));
    assertThrows(StatusRuntimeException.class,
        () -> AgentHarness.drain(direct.stub().snapshot(SnapshotRequest.newBuilder()
            .setOperationId("snap-" + UUID.randomUUID()).setInstance(i).setImageId(imageId)
            .setAllowLive(true).build())));
    assertTrue(rbd("snap", "ls", diskSpec(i)).contains(RbdDisks.SNAPSHOT_MARK),
        "a snapshot with a clone cannot be removed yet");
    rbd("rm", "--no-progress", leftover);  // what the gateway does when it recovers
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (rbd("snap", "ls", diskSpec(i)).contains(RbdDisks.SNAPSHOT_MARK)
        && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertNoSnapshotLeft(i);
  }

  @Test
  void snapshotsLeftByACrashedAgentAreRemovedAtStartUp() throws Exception {
    InstanceSpec i = boot(direct, directBase);
    // What an agent killed between "snapshot taken" and its finally leaves: a protected
    // snapshot named after the operation.
    rbd("snap", "create", diskSpec(i) + "@" + RbdDisks.SNAPSHOT_MARK + "crashed-op");
    rbd("snap", "protect", diskSpec(i) + "@" + RbdDisks.SNAPSHOT_MARK + "crashed-op");
    rbd("snap", "create", diskSpec(i) + "@operator-kept");
    try (RbdDisks disks = RbdDisks.connect(clientConf, ceph.diskPool(), java.time.Duration.ofSeconds(1))) {
      assertEquals(1, Recovery.removeRbdSnapshots(direct.hypervisor, disks));
    }
    assertTrue(rbd("snap", "ls", "--format", "json", diskSpec(i)).contains("operator-kept"),
        "snapshots the agent did not take are not touched");
    rbd("snap", "rm", "--no-progress", diskSpec(i) + "@operator-kept");
    assertNoSnapshotLeft(i);
  }

  @Test
  void powerCycleRebuildsTheDomainOnTheSameRbdDiskAndDeleteRemovesIt() throws Exception {
    InstanceSpec i = boot(direct, directBase);
    AgentHarness.guestWrite(i, 0x41, 1L << 20, 1L << 20);
    AgentHarness.drain(direct.stub().powerOff(PowerOffRequest.newBuilder()
        .setOperationId("off-" + UUID.randomUUID()).setInstance(i).build()));
    assertEquals(Hypervisor.Power.SHUTDOWN, direct.hypervisor.find(i.getUuid()).orElseThrow().power());
    List<TaskUpdate> on = AgentHarness.drain(direct.stub().powerOn(PowerOnRequest.newBuilder()
        .setOperationId("on-" + UUID.randomUUID()).setInstance(i).build()));
    assertEquals(PowerState.POWER_STATE_RUNNING, result(on).getPowerState());
    assertTrue(Libvirt.virsh("dumpxml", "instance-" + i.getUuid())
        .contains("name='" + diskSpec(i) + "'"), "the rebuilt domain uses the rbd disk");
    assertEquals(AgentHarness.sha512(expectedAtSnapshot()),
        AgentHarness.sha512(export(diskSpec(i), "after-cycle")), "the disk kept the guest's write");

    AgentHarness.drain(direct.stub().destroy(DestroyRequest.newBuilder()
        .setOperationId("rm-" + UUID.randomUUID()).setInstance(i).build()));
    assertFalse(rbd("ls", ceph.diskPool()).contains(RbdDisks.diskName(i.getUuid())),
        "deleting the instance removes its rbd disk");
  }
}
