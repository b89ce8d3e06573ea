package io.stratus.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.proto.agent.v1.DeleteVolumeSnapshotsRequest;
import io.stratus.proto.agent.v1.DestroyRequest;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.SnapshotVolumesRequest;
import io.stratus.proto.agent.v1.SpawnRequest;
import io.stratus.proto.agent.v1.TaskState;
import io.stratus.proto.agent.v1.TaskUpdate;
import io.stratus.proto.agent.v1.Volume;
import io.stratus.proto.agent.v1.VolumeSnapshot;
import io.stratus.proto.agent.v1.VolumeSnapshotsResult;
import io.stratus.testkit.CephCluster;
import io.stratus.testkit.Libvirt;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Volume-backed instances (Nova boot from volume) on a real throwaway Ceph cluster, run by
 * real qemu guests (SeaBIOS, no OS) through a real libvirtd: three RBD volumes, the guest
 * agent channel configured but — no OS, no qemu-ga — never connected, so these tests cover
 * the crash-consistent path and the refusal when quiesce is required. The quiesced path,
 * with a stub answering over the agent channel, is in {@link QuiesceWithGuestAgentStubTest}.
 */
class VolumeBackedTest {
  static CephCluster ceph;
  static Path root;
  static AgentHarness h;
  static String baseImage;
  static Path baseBytes;
  final List<InstanceSpec> instances = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    String uri = Libvirt.ensureRunning();
    ceph = CephCluster.start();
    root = Libvirt.scratchDir("agent-volumes");
    h = new AgentHarness(new LibvirtHypervisor(uri), root, Map.of(
        "ceph.conf", ceph.writeClientConf(root).toString(), "ceph.pool", ceph.diskPool()));
    baseImage = h.seedBaseImage(16L << 20, 5).getId();
    baseBytes = h.download(baseImage, root.resolve("base.raw"));
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (h != null) {
        h.close();
      }
    } finally {
      if (ceph != null) {
        ceph.close();
      }
    }
  }

  @AfterEach
  void destroyInstances() {
    for (InstanceSpec i : instances) {
      AgentHarness.drain(h.stub().destroy(DestroyRequest.newBuilder()
          .setOperationId("cleanup-" + UUID.randomUUID()).setInstance(i).build()));
    }
  }

  /** A boot volume from the base image and two blank 8 MiB data volumes. */
  static InstanceSpec volumeBacked(String pool, String imageId) {
    String uuid = UUID.randomUUID().toString();
    InstanceSpec.Builder b = AgentHarness.instance(imageId).toBuilder().setUuid(uuid)
        .setGuestAgent(true);
    String[] devices = {"vda", "vdb", "vdc"};
    for (int n = 0; n < devices.length; n++) {
      String id = UUID.randomUUID().toString();
      Volume.Builder v = Volume.newBuilder().setId(id).setPool(pool).setImage("volume-" + id)
          .setDevice(devices[n]).setBootIndex(n == 0 ? 0 : -1).setDeleteOnTermination(true);
      if (n == 0) {
        v.setSourceImage(imageId);
      } else {
        v.setSizeBytes(8L << 20);
      }
      b.addVolumes(v);
    }
    return b.build();
  }

  private InstanceSpec boot(InstanceSpec i) {
    AgentHarness.drain(h.stub().spawn(SpawnRequest.newBuilder()
        .setOperationId("spawn-" + UUID.randomUUID()).setInstance(i).build()));
    instances.add(i);
    return i;
  }

  /** Writes through the guest's block layer to its {@code n}th virtio disk. */
  private static void guestWrite(InstanceSpec i, int disk, int pattern, long offset, long length) {
    Libvirt.virsh("qemu-monitor-command", "instance-" + i.getUuid(), "--hmp",
        "qemu-io -d /machine/peripheral/virtio-disk" + disk + "/virtio-backend \"write -P 0x"
            + Integer.toHexString(pattern) + " " + offset + " " + length + "\"");
  }

  private static Path export(String spec) throws Exception {
    Path out = root.resolve("export-" + UUID.randomUUID() + ".raw");
    AgentHarness.run("rbd", "-c", ceph.conf().toString(), "export", "--no-progress", spec,
        out.toString());
    return out;
  }

  private static byte[] read(Path raw, long offset, int length) throws Exception {
    try (RandomAccessFile f = new RandomAccessFile(raw.toFile(), "r")) {
      byte[] b = new byte[length];
      f.seek(offset);
      f.readFully(b);
      return b;
    }
  }

  private static byte[] filled(int pattern) {
    byte[] b = new byte[1 << 20];
    Arrays.fill(b, (byte) pattern);
    return b;
  }

  private static SnapshotVolumesRequest request(InstanceSpec i, String snap, boolean require) {
    return SnapshotVolumesRequest.newBuilder().setOperationId("vsnap-" + UUID.randomUUID())
        .setInstance(i).setSnapshotName(snap).setRequireQuiesce(require).build();
  }

  private static String snapshots(InstanceSpec i) throws Exception {
    StringBuilder all = new StringBuilder();
    for (Volume v : i.getVolumesList()) {
      all.append(AgentHarness.run("rbd", "-c", ceph.conf().toString(), "snap", "ls",
          v.getPool() + "/" + v.getImage()));
    }
    return all.toString();
  }

  @Test
  void withoutAConnectedGuestAgentEveryVolumeIsSnapshottedCrashConsistentAndBootsBack()
      throws Exception {
    InstanceSpec i = boot(volumeBacked(ceph.diskPool(), baseImage));
    guestWrite(i, 0, 0x41, 1L << 20, 1L << 20);
    guestWrite(i, 1, 0x51, 0, 1L << 20);
    guestWrite(i, 2, 0x61, 2L << 20, 1L << 20);

    List<TaskUpdate> updates = AgentHarness.drain(h.stub().snapshotVolumes(request(i, "img-1", false)));

    assertEquals(List.of(TaskState.TASK_STATE_IMAGE_SNAPSHOT, TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD),
        updates.stream().filter(TaskUpdate::hasTransition)
            .map(u -> u.getTransition().getTaskState()).toList());
    VolumeSnapshotsResult r = updates.get(updates.size() - 1).getResult().getVolumeSnapshots();
    assertFalse(r.getQuiesced());
    assertTrue(r.getQuiesceError().contains("not connected"), r.getQuiesceError());
    assertEquals(3, r.getSnapshotsCount());
    assertEquals(List.of("vda", "vdb", "vdc"), r.getSnapshotsList().stream().map(VolumeSnapshot::getDevice).toList());
    assertEquals(16L << 20, r.getSnapshots(0).getSize());

    guestWrite(i, 1, 0x52, 0, 1L << 20);  // after the snapshot: not in it
    Path vda = export(ceph.diskPool() + "/" + i.getVolumes(0).getImage() + "@img-1");
    Path vdb = export(ceph.diskPool() + "/" + i.getVolumes(1).getImage() + "@img-1");
    assertArrayEquals(filled(0x41), read(vda, 1L << 20, 1 << 20));
    assertArrayEquals(read(baseBytes, 0, 1 << 20), read(vda, 0, 1 << 20), "the boot volume holds the image");
    assertArrayEquals(filled(0x51), read(vdb, 0, 1 << 20));

    // Booting from the snapshots clones them into new volumes.
    InstanceSpec.Builder copy = i.toBuilder().setUuid(UUID.randomUUID().toString()).clearVolumes();
    for (VolumeSnapshot s : r.getSnapshotsList()) {
      String id = UUID.randomUUID().toString();
      copy.addVolumes(Volume.newBuilder().setId(id).setPool(ceph.diskPool()).setImage("volume-" + id)
          .setDevice(s.getDevice()).setBootIndex(s.getBootIndex()).setDeleteOnTermination(true)
          .setSourceSnapshot(s.getPool() + "/" + s.getImage() + "@" + s.getSnapshot()));
    }
    InstanceSpec second = boot(copy.build());
    for (int n = 0; n < 3; n++) {
      assertEquals(AgentHarness.sha512(export(ceph.diskPool() + "/" + i.getVolumes(n).getImage() + "@img-1")),
          AgentHarness.sha512(export(ceph.diskPool() + "/" + second.getVolumes(n).getImage())),
          "volume " + n + " of the instance booted from the snapshot");
    }

    // The snapshots cannot be removed while the second instance's volumes are clones of them.
    var delete = DeleteVolumeSnapshotsRequest.newBuilder()
        .addAllSnapshots(r.getSnapshotsList()).build();
    var held = assertThrows(StatusRuntimeException.class, () -> h.stub().deleteVolumeSnapshots(delete));
    assertEquals(Status.Code.FAILED_PRECONDITION, held.getStatus().getCode());
    assertTrue(held.getStatus().getDescription().contains("still has clones [" + ceph.diskPool()
        + "/" + second.getVolumes(0).getImage() + "]"), held.getStatus().getDescription());
    assertEquals(3, snapshots(i).split("img-1", -1).length - 1, "nothing was removed");

    // Deleting the first instance keeps the volumes the snapshots (the image) depend on.
    instances.remove(second);
    AgentHarness.drain(h.stub().destroy(DestroyRequest.newBuilder()
        .setOperationId("rm-" + UUID.randomUUID()).setInstance(second).build()));
    var details = AgentHarness.drain(h.stub().destroy(DestroyRequest.newBuilder()
        .setOperationId("rm-" + UUID.randomUUID()).setInstance(i).build()));
    assertTrue(details.get(details.size() - 1).getResult().getDetails().contains("volumes kept"),
        details.toString());
    assertTrue(snapshots(i).contains("img-1"));

    // With the clones gone, deleting the image's snapshots works, and twice is harmless.
    assertEquals(3, h.stub().deleteVolumeSnapshots(delete).getRemoved());
    assertFalse(snapshots(i).contains("img-1"));
    assertEquals(0, h.stub().deleteVolumeSnapshots(delete).getRemoved());
  }

  @Test
  void requiredQuiesceWithoutAGuestAgentIsRefusedAndKeepsNothing() throws Exception {
    InstanceSpec i = boot(volumeBacked(ceph.diskPool(), baseImage));
    var e = assertThrows(StatusRuntimeException.class,
        () -> AgentHarness.drain(h.stub().snapshotVolumes(request(i, "img-2", true))));
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().startsWith("quiesce is required (os_require_quiesce)"
        + " but quiesce failed:"), e.getStatus().getDescription());
    assertFalse(snapshots(i).contains("img-2"), "no volume snapshot is kept");
  }

  @Test
  void badRequestsNameTheField() {
    InstanceSpec i = volumeBacked(ceph.diskPool(), baseImage);
    var noVolumes = assertThrows(StatusRuntimeException.class, () -> AgentHarness.drain(
        h.stub().snapshotVolumes(request(i.toBuilder().clearVolumes().build(), "x", false))));
    assertEquals(Status.Code.INVALID_ARGUMENT, noVolumes.getStatus().getCode());
    assertTrue(noVolumes.getStatus().getDescription().startsWith("instance.volumes:"),
        noVolumes.getStatus().getDescription());
    var badName = assertThrows(StatusRuntimeException.class, () -> AgentHarness.drain(
        h.stub().snapshotVolumes(request(i, "a/b@c", false))));
    assertEquals(Status.Code.INVALID_ARGUMENT, badName.getStatus().getCode());
    assertTrue(badName.getStatus().getDescription().startsWith("snapshot_name:"),
        badName.getStatus().getDescription());
  }
}
