package io.stratus.e2e;

import static io.stratus.e2e.StratusSystem.MEMBER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.PowerState;
import io.stratus.proto.conductor.v1.RebootServerRequest;
import io.stratus.proto.conductor.v1.RebootType;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.StartServerRequest;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.ImageStatus;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The round trip through the whole system, every service its own process, real qemu
 * guests: boot, write real bytes into the guest-visible disk, snapshot (live, stopped,
 * paused), boot a second server from the snapshot and compare the disks; start, stop and
 * hard reboot with the exact WatchServer sequences and the libvirt domain really changing.
 */
class EndToEndTest {
  static StratusSystem system;
  static String base;

  @BeforeAll
  static void start() throws Exception {
    system = new StratusSystem();
    base = system.seedBaseImage(32L << 20);
  }

  @AfterAll
  static void stop() throws Exception {
    system.close();
  }

  /** Snapshots through the public API, waits, returns the image id. */
  private static String snapshot(String serverId, String name) throws Exception {
    String imageId = system.servers(MEMBER).createImage(CreateImageRequest.newBuilder()
        .setServerId(serverId).setName(name).build()).getImageId();
    Server s = system.awaitIdle(serverId, Duration.ofSeconds(180));
    assertTrue(!s.hasFault() || s.getFault().getMessage().isEmpty(), "snapshot failed: " + s.getFault());
    var image = system.images().getImage(GetImageRequest.newBuilder().setImageId(imageId).build()).getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    assertEquals("snapshot", image.getPropertiesMap().get("image_type"));
    assertEquals(serverId, image.getPropertiesMap().get("instance_uuid"));
    return imageId;
  }

  /** Boots a second server from the image and checks its disk shows the same content. */
  private static void bootBackAndCompare(String imageId, String expectedSha512) throws Exception {
    Server clone = system.boot("clone-of-" + imageId.substring(0, 8), imageId);
    assertEquals(VmState.VM_STATE_ACTIVE, clone.getVmState());
    assertEquals("running", StratusSystem.domstate(clone.getId()));
    assertEquals(expectedSha512, system.guestContentSha512(system.disk(clone.getId())),
        "the server booted from the snapshot sees the snapshotted disk");
  }

  @Test
  void liveSnapshotOfARunningGuestBootsBackWithTheSameDisk() throws Exception {
    Server s = system.boot("live", base);
    StratusSystem.guestWrite(s.getId(), 0x4c, 4L << 20, 2L << 20);
    String before = system.guestContentSha512(system.disk(s.getId()));
    try (Watch watch = new Watch(system.serversAsync(MEMBER), s.getId())) {
      String imageId = snapshot(s.getId(), "live-snap");
      watch.await("snapshot.end", 60);
      assertEquals(List.of(
          "image_snapshot_pending/active/RUNNING", "n:snapshot.start",
          "image_snapshot/active/RUNNING", "image_pending_upload/active/RUNNING",
          "image_uploading/active/RUNNING", "none/active/RUNNING", "n:snapshot.end"),
          watch.states().subList(0, 7));
      assertEquals("running", StratusSystem.domstate(s.getId()), "the guest kept running");
      bootBackAndCompare(imageId, before);
    }
  }

  @Test
  void snapshotOfAStoppedGuestBootsBackWithTheSameDisk() throws Exception {
    Server s = system.boot("cold", base);
    StratusSystem.guestWrite(s.getId(), 0x43, 1L << 20, 1L << 20);
    system.servers(MEMBER).stopServer(StopServerRequest.newBuilder().setServerId(s.getId())
        .setTimeoutSeconds(1).build());
    assertEquals(VmState.VM_STATE_STOPPED, system.awaitIdle(s.getId(), Duration.ofSeconds(60)).getVmState());
    assertEquals("shut off", StratusSystem.domstate(s.getId()));
    String before = system.guestContentSha512(system.disk(s.getId()));
    String imageId = snapshot(s.getId(), "cold-snap");
    assertEquals("shut off", StratusSystem.domstate(s.getId()), "a stopped guest stays stopped");
    bootBackAndCompare(imageId, before);
  }

  @Test
  void snapshotOfAPausedGuestLeavesItPausedAndBootsBack() throws Exception {
    Server s = system.boot("paused", base);
    StratusSystem.guestWrite(s.getId(), 0x50, 2L << 20, 1L << 20);
    io.stratus.testkit.Libvirt.virsh("suspend", StratusSystem.domain(s.getId()));
    String before = system.guestContentSha512(system.disk(s.getId()));
    String imageId = snapshot(s.getId(), "paused-snap");
    assertEquals("paused", StratusSystem.domstate(s.getId()));
    assertEquals(PowerState.POWER_STATE_PAUSED, system.get(s.getId()).getPowerState());
    bootBackAndCompare(imageId, before);
  }

  /** Runs the operator CLI against the system; returns {exit code, stdout, stderr}. */
  private static String[] cli(String... args) {
    return system.cli(MEMBER, args);
  }

  @Test
  void theCliUploadsBootsAndSnapshotsThroughTheRealSystem() throws Exception {
    java.nio.file.Path raw = system.root.resolve("cli-base.raw");
    byte[] data = new byte[2 << 20];
    new java.util.Random(9).nextBytes(data);
    java.nio.file.Files.write(raw, data);
    try (var f = new java.io.RandomAccessFile(raw.toFile(), "rw")) {
      f.setLength(16L << 20);  // 14 MiB of hole
    }
    String[] up = cli("image", "upload", "--name", "cli-base", "--file", raw.toString(),
        "--owner", "e2e-project", "-f", "json");
    assertEquals("0", up[0], up[2]);
    var image = io.stratus.proto.image.v1.Image.newBuilder();
    com.google.protobuf.util.JsonFormat.parser().ignoringUnknownFields().merge(up[1], image);
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    assertEquals(16L << 20, image.getVirtualSize());

    String[] boot = cli("server", "create", "--image", image.getId(), "--flavor-vcpus", "1",
        "--flavor-ram", "128", "--wait", "cli-server", "-f", "json");
    assertEquals("0", boot[0], boot[2]);
    var server = Server.newBuilder();
    com.google.protobuf.util.JsonFormat.parser().ignoringUnknownFields().merge(boot[1], server);
    assertEquals(VmState.VM_STATE_ACTIVE, server.getVmState());
    assertEquals("running", StratusSystem.domstate(server.getId()));

    String[] snap = cli("server", "image", "create", server.getId(), "--name", "cli-snap", "--wait");
    assertEquals("0", snap[0], snap[2]);
    assertTrue(snap[2].contains("100%") || snap[2].contains("uploading"), "progress shown: " + snap[2]);
    assertEquals("0", cli("server", "delete", server.getId(), "--wait")[0]);
  }

  @Test
  void everyMistakeAUserCanMakeFromTheCliIsOneClearLineAndANonZeroExit() throws Exception {
    Server s = system.boot("cli-errors", base);
    String unknown = java.util.UUID.randomUUID().toString();
    String[][] cases = {
        {"1", "error: NOT_FOUND: server " + unknown + " not found", "server", "show", unknown},
        {"1", "error: FAILED_PRECONDITION: cannot start server " + s.getId()
            + " while it is in vm_state active", "server", "start", s.getId()},
        {"1", "error: no server with name or id 'nope'", "server", "stop", "nope"},
        {"1", "error: INVALID_ARGUMENT: name: must not be empty", "server", "image", "create",
            s.getId(), "--name", " "},
        {"1", "error: PERMISSION_DENIED: the Hosts API is for admins only", "host", "list"},
    };
    for (String[] c : cases) {
      String[] r = cli(java.util.Arrays.copyOfRange(c, 2, c.length));
      assertEquals(c[0], r[0], String.join(" ", c) + " -> " + r[2]);
      assertEquals(c[1], r[2].strip(), "one clear line for: " + String.join(" ", c));
      assertEquals(1, r[2].strip().lines().count());
    }
    String[] usage = cli("server", "create", "no-image-given");
    assertEquals("2", usage[0]);
    assertTrue(!usage[2].isBlank());
  }

  @Test
  void anAdminDisablesAndEnablesTheHostFromTheCliAndAMemberMayNot() throws Exception {
    String[] refused = cli("host", "disable", StratusSystem.HOST, "--reason", "maintenance");
    assertEquals("1", refused[0], refused[2]);
    assertEquals("error: PERMISSION_DENIED: the Hosts API is for admins only", refused[2].strip());

    String[] off = system.cli(StratusSystem.ADMIN, "host", "disable", StratusSystem.HOST,
        "--reason", "maintenance");
    try {
      assertEquals("0", off[0], off[2]);
      assertTrue(off[1].contains(StratusSystem.HOST) && off[1].contains("disabled"), off[1]);
      String[] listed = system.cli(StratusSystem.ADMIN, "host", "list");
      assertTrue(listed[1].lines().anyMatch(l -> l.startsWith(StratusSystem.HOST)
          && l.contains("disabled") && l.contains(" up ")), listed[1]);
    } finally {
      String[] on = system.cli(StratusSystem.ADMIN, "host", "enable", StratusSystem.HOST);
      assertEquals("0", on[0], on[2]);
      assertTrue(on[1].contains("enabled"), on[1]);
    }
    String[] unknown = system.cli(StratusSystem.ADMIN, "host", "enable", "no-such-host");
    assertEquals("1", unknown[0]);
    assertTrue(unknown[2].startsWith("error: NOT_FOUND"), unknown[2]);
  }

  @Test
  void stopStartAndHardRebootFollowNovasStatesAndReallyChangeTheDomain() throws Exception {
    Server s = system.boot("power", base);
    try (Watch watch = new Watch(system.serversAsync(MEMBER), s.getId())) {
      system.servers(MEMBER).stopServer(StopServerRequest.newBuilder().setServerId(s.getId())
          .setTimeoutSeconds(1).build());
      watch.await("power_off.end", 60);
      assertEquals("shut off", StratusSystem.domstate(s.getId()));
      system.servers(MEMBER).startServer(StartServerRequest.newBuilder().setServerId(s.getId()).build());
      watch.await("power_on.end", 60);
      assertEquals("running", StratusSystem.domstate(s.getId()));
      system.servers(MEMBER).rebootServer(RebootServerRequest.newBuilder().setServerId(s.getId())
          .setType(RebootType.REBOOT_TYPE_HARD).build());
      watch.await("reboot.end", 60);
      assertEquals("running", StratusSystem.domstate(s.getId()));
      assertEquals(List.of(
          "powering-off/active/RUNNING", "n:power_off.start",
          "none/stopped/SHUTDOWN", "n:power_off.end",
          "powering-on/stopped/SHUTDOWN", "n:power_on.start",
          "none/active/RUNNING", "n:power_on.end",
          "rebooting_hard/active/RUNNING", "n:reboot.start",
          "reboot_pending_hard/active/RUNNING", "reboot_started_hard/active/RUNNING",
          "none/active/RUNNING", "n:reboot.end"), watch.states());
    }
  }
}
