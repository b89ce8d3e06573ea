package io.stratus.e2e;

import static io.stratus.e2e.StratusSystem.MEMBER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.BlockDevice;
import io.stratus.proto.conductor.v1.BlockDeviceSource;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.DeleteServerRequest;
import io.stratus.proto.conductor.v1.DeleteSnapshotImageRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.RootDiskKind;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.testkit.CephCluster;
import io.stratus.testkit.GuestConsole;
import io.stratus.testkit.LinuxGuest;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Ceph paths through the whole system, every service its own process: a real
 * throwaway Ceph cluster holds the images (gateway rbd store), the RBD root disks and the
 * volumes; real qemu guests open them. RBD-backed servers snapshot by the direct path and
 * boot back; volume-backed servers snapshot into an image of size 0 that boots back and is
 * deleted with its volume snapshots once nothing depends on them.
 */
class CephEndToEndTest {
  static CephCluster ceph;
  static StratusSystem system;
  static String base;

  @BeforeAll
  static void start() throws Exception {
    ceph = CephCluster.start();
    try {
      system = new StratusSystem(ceph);
      base = system.seedBaseImage(32L << 20);
    } catch (Exception | Error e) {
      ceph.close();
      throw e;
    }
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (system != null) {
        system.close();
      }
    } finally {
      ceph.close();
    }
  }

  private static String rbd(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("rbd", "-c", ceph.conf().toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, cmd + ": " + out);
    return out;
  }

  private static String sha512Of(String spec) throws Exception {
    Process p = new ProcessBuilder("rbd", "-c", ceph.conf().toString(), "export", "--no-progress",
        spec, "-").start();
    MessageDigest d = MessageDigest.getInstance("SHA-512");
    try (var in = p.getInputStream()) {
      byte[] b = new byte[1 << 20];
      int n;
      while ((n = in.read(b)) > 0) {
        d.update(b, 0, n);
      }
    }
    assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, "rbd export " + spec);
    return HexFormat.of().formatHex(d.digest());
  }

  private static Server create(CreateServerRequest.Builder r) throws Exception {
    return create(r, 128);
  }

  private static Server create(CreateServerRequest.Builder r, int memoryMb) throws Exception {
    String id = system.servers(MEMBER).createServer(r.setFlavor(Flavor.newBuilder().setVcpus(1)
        .setMemoryMb(memoryMb)).build()).getServer().getId();
    Server s = system.awaitIdle(id, Duration.ofSeconds(120));
    assertEquals(VmState.VM_STATE_ACTIVE, s.getVmState(), s.toString());
    return s;
  }

  private static String snapshot(String serverId, String name) throws Exception {
    String imageId = system.servers(MEMBER).createImage(CreateImageRequest.newBuilder()
        .setServerId(serverId).setName(name).build()).getImageId();
    Server s = system.awaitIdle(serverId, Duration.ofSeconds(180));
    assertTrue(!s.hasFault() || s.getFault().getMessage().isEmpty(), "snapshot failed: " + s.getFault());
    return imageId;
  }

  private static Image image(String id) {
    return system.images().getImage(GetImageRequest.newBuilder().setImageId(id).build()).getImage();
  }

  @Test
  void anRbdBackedServerSnapshotsByTheDirectPathAndBootsBack() throws Exception {
    Server s = create(CreateServerRequest.newBuilder().setName("rbd-root").setImageRef(base)
        .setRootDiskKind(RootDiskKind.ROOT_DISK_KIND_RBD));
    String disk = ceph.diskPool() + "/" + s.getId() + "_disk";
    assertTrue(rbd("info", "--format", "json", disk).contains(base), "a copy-on-write clone of the image");
    StratusSystem.guestWrite(s.getId(), 0x4c, 4L << 20, 2L << 20);
    rbd("snap", "create", disk + "@expected");  // the disk as the snapshot must see it
    String expected = sha512Of(disk + "@expected");
    rbd("snap", "rm", "--no-progress", disk + "@expected");

    String imageId = snapshot(s.getId(), "rbd-snap");
    Image image = image(imageId);
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    assertEquals(List.of("rbd://" + ceph.fsid() + "/" + ceph.imagePool() + "/" + imageId + "/snap"),
        image.getLocationsList(), "direct path: the image is the flattened clone");
    assertEquals("running", StratusSystem.domstate(s.getId()), "the guest kept running");
    assertEquals("[]", rbd("snap", "ls", "--format", "json", disk).strip(), "no snapshot left on the disk");
    assertEquals(expected, sha512Of(ceph.imagePool() + "/" + imageId + "@snap"));

    Server back = create(CreateServerRequest.newBuilder().setName("rbd-back").setImageRef(imageId)
        .setRootDiskKind(RootDiskKind.ROOT_DISK_KIND_RBD));
    assertEquals(expected, sha512Of(ceph.diskPool() + "/" + back.getId() + "_disk"),
        "the server booted from the snapshot sees the snapshotted disk");
  }

  /** Whether the server's deletion finished, as the public API reports it. */
  private static boolean deleted(String serverId) {
    try {
      return system.get(serverId).getVmState() == io.stratus.proto.conductor.v1.VmState.VM_STATE_DELETED;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode() == Status.Code.NOT_FOUND;
    }
  }

  @Test
  void aVolumeBackedServerSnapshotsIntoAnEmptyImageThatBootsBackAndIsDeletedWithItsSnapshots()
      throws Exception {
    Server s = create(CreateServerRequest.newBuilder().setName("vb").setImageRef(base)
        .addBlockDevices(BlockDevice.newBuilder()
            .setSourceType(BlockDeviceSource.BLOCK_DEVICE_SOURCE_IMAGE).setUuid(base)
            .setBootIndex(0).setDeleteOnTermination(true))
        .addBlockDevices(BlockDevice.newBuilder()
            .setSourceType(BlockDeviceSource.BLOCK_DEVICE_SOURCE_BLANK).setVolumeSizeGb(1)
            .setBootIndex(-1).setDeleteOnTermination(true)));
    assertEquals(2, s.getVolumesCount());
    String boot = ceph.diskPool() + "/volume-" + s.getVolumes(0).getId();
    StratusSystem.guestWrite(s.getId(), 0x5a, 1L << 20, 1L << 20);

    String imageId = snapshot(s.getId(), "vb-snap");
    Image image = image(imageId);
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    assertEquals(0, image.getSize());
    assertEquals("True", image.getPropertiesOrThrow("bdm_v2"));
    assertTrue(image.getPropertiesOrThrow("block_device_mapping").contains("\"device_name\":\"/dev/vdb\""));
    String snap = "image-" + imageId;
    assertTrue(rbd("snap", "ls", boot).contains(snap));
    String atSnapshot = sha512Of(boot + "@" + snap);

    Server back = create(CreateServerRequest.newBuilder().setName("vb-back").setImageRef(imageId));
    assertEquals(2, back.getVolumesCount());
    String backBoot = ceph.diskPool() + "/volume-" + back.getVolumes(0).getId();
    assertEquals(atSnapshot, sha512Of(backBoot), "the new boot volume is the snapshot's content");

    var held = assertThrows(StatusRuntimeException.class, () -> system.servers(MEMBER)
        .deleteSnapshotImage(DeleteSnapshotImageRequest.newBuilder().setImageId(imageId).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, held.getStatus().getCode());
    assertTrue(held.getStatus().getDescription().contains("server " + back.getId()),
        held.getStatus().getDescription());

    system.servers(MEMBER).deleteServer(DeleteServerRequest.newBuilder().setServerId(back.getId()).build());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    // The agent removes the volumes from Ceph before it reports; the conductor releases
    // them in its database when it takes the report: wait for both, not just the first.
    while (!deleted(back.getId())
        || rbd("ls", ceph.diskPool()).contains("volume-" + back.getVolumes(0).getId())) {
      assertTrue(System.nanoTime() < deadline, "the deleted server's volumes were not removed");
      Thread.sleep(200);
    }
    var deleted = system.servers(MEMBER).deleteSnapshotImage(
        DeleteSnapshotImageRequest.newBuilder().setImageId(imageId).build());
    assertEquals(2, deleted.getVolumeSnapshotsDeleted());
    assertFalse(rbd("snap", "ls", boot).contains(snap), "the volume snapshots are gone from Ceph");
    var gone = assertThrows(StatusRuntimeException.class, () -> image(imageId));
    assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode());
  }

  /**
   * A volume-backed server running the real Linux guest: its snapshot freezes the guest's
   * file system through the real qemu guest agent while the volume snapshots are taken,
   * and a server booted from that image (new volumes cloned from the snapshots) holds every
   * file complete before the freeze.
   */
  @Test
  void aQuiescedSnapshotOfAVolumeBackedLinuxGuestBootsBackWithEveryFile() throws Exception {
    String linux = LinuxGuestChecks.upload(system, "linux-qga-ceph", LinuxGuest.image(),
        Map.of("hw_qemu_guest_agent", "yes"));
    Server s = create(CreateServerRequest.newBuilder().setName("vb-linux").setImageRef(linux)
        .addBlockDevices(BlockDevice.newBuilder()
            .setSourceType(BlockDeviceSource.BLOCK_DEVICE_SOURCE_IMAGE).setUuid(linux)
            .setBootIndex(0).setDeleteOnTermination(true)), LinuxGuest.MEMORY_MIB);
    assertEquals(1, s.getVolumesCount());
    Path log = system.consoleLog(s.getId());
    LinuxGuestChecks.awaitWriting(log, 20);

    long snapping = System.nanoTime();
    String imageId = snapshot(s.getId(), "vb-linux-snap");
    long snapshotMs = (System.nanoTime() - snapping) / 1_000_000;
    assertEquals("running", StratusSystem.domstate(s.getId()), "the guest kept running");
    assertEquals(0, image(imageId).getSize(), "a volume-backed snapshot: the data is in the volume snapshots");
    GuestConsole.Boot source = GuestConsole.await(log, Duration.ofSeconds(60),
        "files written after the thaw", c -> c.lastBoot().completedAfterThaw() >= 5).lastBoot();
    var syslog = LinuxGuestChecks.guestExec(StratusSystem.domain(s.getId()), "/bin/cat", "/run/messages");
    assertTrue(syslog.stdout().contains("guest-fsfreeze called"), "qemu-ga's own log: " + syslog);

    Server back = create(CreateServerRequest.newBuilder().setName("vb-linux-back").setImageRef(imageId),
        LinuxGuest.MEMORY_MIB);
    assertEquals(1, back.getVolumesCount());
    GuestConsole.Boot booted = LinuxGuestChecks.awaitReady(system.consoleLog(back.getId()), 1).lastBoot();
    int files = LinuxGuestChecks.assertHoldsEveryFileCompleteBeforeTheFreeze(source, booted);
    double[] window = source.freezeWindow();
    System.out.printf("[linux-guest] volume-backed (Ceph) quiesced snapshot: CreateImage to active"
        + " %d ms; guest frozen %.0f ms; %d files complete before the freeze, %d in the image,"
        + " all verified%n", snapshotMs, (window[1] - window[0]) * 1000,
        source.completedBeforeFreeze().size(), files);
  }
}
