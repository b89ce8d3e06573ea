package io.stratus.e2e;

import static io.stratus.e2e.StratusSystem.MEMBER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.CreateServerRequest;
import io.stratus.proto.conductor.v1.Flavor;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.TaskState;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.testkit.Libvirt;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Crashes of real processes in the middle of real operations, and what survives them
 * (issue 13): a conductor killed with SIGKILL mid-snapshot is restarted, adopts the task
 * once the dead one's lease expired and re-attaches to the agent's operation by its id, so
 * the snapshot ends active with the guest's content; an agent killed mid-upload loses its
 * operation, and the conductor, re-attaching to the restarted agent, learns that and
 * cleans up (image deleted, overlay committed, guest running); a guest destroyed behind
 * the system's back is found by the power-state sync and recorded stopped, not restarted.
 */
class CrashRecoveryEndToEndTest {
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

  /** A server whose 8 GiB disk keeps a snapshot's upload busy for a while. */
  private static String bigServer(String name) throws Exception {
    String id = system.servers(MEMBER).createServer(CreateServerRequest.newBuilder()
        .setName(name).setImageRef(base)
        .setFlavor(Flavor.newBuilder().setVcpus(1).setMemoryMb(128).setRootGb(8))
        .build()).getServer().getId();
    assertEquals(VmState.VM_STATE_ACTIVE,
        system.awaitIdle(id, Duration.ofSeconds(120)).getVmState());
    return id;
  }

  private static void awaitTask(String id, Set<TaskState> states) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!states.contains(system.get(id).getTaskState())) {
      assertTrue(System.nanoTime() < deadline, "the snapshot never reached " + states);
      Thread.sleep(20);
    }
  }

  @Test
  void aConductorKilledMidSnapshotIsReplacedAndTheSnapshotEndsActive() throws Exception {
    String id = bigServer("conductor-crash");
    // data spread over the disk, past what the base image holds
    StratusSystem.guestWrite(id, 0x5a, 64L << 20, 8L << 20);
    StratusSystem.guestWrite(id, 0xa5, 6L << 30, 4L << 20);
    String requestAndImage = system.servers(MEMBER).createImage(CreateImageRequest.newBuilder()
        .setServerId(id).setName("survives-conductor").build()).getImageId();
    awaitTask(id, Set.of(TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
        TaskState.TASK_STATE_IMAGE_UPLOADING));
    system.killConductor();
    long killedAt = System.nanoTime();
    system.restartConductor("conductor-restarted");

    Server after = system.awaitIdle(id, Duration.ofSeconds(180));
    long recoveredMs = (System.nanoTime() - killedAt) / 1_000_000;
    assertTrue(!after.hasFault() || after.getFault().getMessage().isEmpty(),
        "no fault: " + after.getFault());
    assertEquals(VmState.VM_STATE_ACTIVE, after.getVmState());
    assertEquals("running", StratusSystem.domstate(id), "the guest kept running");
    var image = system.images().getImage(
        GetImageRequest.newBuilder().setImageId(requestAndImage).build()).getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus(), "the snapshot ends active");
    String log = Files.readString(system.conductor.log);
    assertTrue(log.contains("re-attaching task; op=CREATE_IMAGE instance=" + id), log);
    System.out.printf("[crash-recovery] conductor SIGKILL mid-upload: snapshot active %d ms"
        + " after the kill%n", recoveredMs);

    Server clone = system.boot("clone-after-crash", requestAndImage);
    assertEquals("identical", StratusSystem.compareGuestContent(system.disk(id),
        system.disk(clone.getId())), "the image holds the guest's disk");
  }

  @Test
  void aGatewayKilledMidUploadIsRestartedAndTheAgentResumesFromItsCommittedOffset()
      throws Exception {
    String id = bigServer("gateway-crash");
    // enough data that the upload takes seconds: 768 MiB in three places
    for (int n = 0; n < 3; n++) {
      StratusSystem.guestWrite(id, 0x31 + n, (1L + 2L * n) << 30, 256L << 20);
    }
    var accepted = system.servers(MEMBER).createImage(CreateImageRequest.newBuilder()
        .setServerId(id).setName("survives-gateway").build());
    String imageId = accepted.getImageId();
    awaitTask(id, Set.of(TaskState.TASK_STATE_IMAGE_UPLOADING));
    // kill once part of it is durable in the store (the agent's upload id is the request id)
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (system.images(StratusSystem.ADMIN).getUploadStatus(
            io.stratus.proto.image.v1.GetUploadStatusRequest.newBuilder().setImageId(imageId)
                .setUploadId(accepted.getRequestId()).build()).getCommittedOffset() == 0) {
      assertTrue(System.nanoTime() < deadline, "nothing of the upload became durable");
      Thread.sleep(20);
    }
    system.killGateway();
    long killedAt = System.nanoTime();
    system.restartGateway("image-gateway-restarted");

    Server after = system.awaitIdle(id, Duration.ofSeconds(300));
    long recoveredMs = (System.nanoTime() - killedAt) / 1_000_000;
    assertTrue(!after.hasFault() || after.getFault().getMessage().isEmpty(),
        "no fault: " + after.getFault());
    var image = system.images().getImage(
        GetImageRequest.newBuilder().setImageId(imageId).build()).getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    String agentLog = Files.readString(system.agent.log);
    java.util.regex.Matcher resumed = java.util.regex.Pattern.compile(
        "upload resuming; image=" + imageId + " upload=\\S+ from=(\\d+)").matcher(agentLog);
    assertTrue(resumed.find(), "the agent resumed the upload:\n" + system.agent.tail());
    assertTrue(Long.parseLong(resumed.group(1)) > 0, "from the committed offset, not from 0");
    System.out.printf("[crash-recovery] gateway SIGKILL mid-upload: resumed from %s bytes,"
        + " snapshot active %d ms after the kill%n", resumed.group(1), recoveredMs);

    Server clone = system.boot("clone-after-gateway-crash", imageId);
    assertEquals("identical", StratusSystem.compareGuestContent(system.disk(id),
        system.disk(clone.getId())), "the resumed image holds the guest's disk");
  }

  @Test
  void postgresCrashedAndRestartedUnderLoadLosesNoTransitionAndLeavesNothing() throws Exception {
    String snap = bigServer("pg-snapshot");
    StratusSystem.guestWrite(snap, 0x77, 1L << 30, 384L << 20);
    Server stopMe = system.boot("pg-stop", base);
    Server rebootMe = system.boot("pg-reboot", base);
    String imageId = system.servers(MEMBER).createImage(CreateImageRequest.newBuilder()
        .setServerId(snap).setName("survives-postgres").build()).getImageId();
    system.servers(MEMBER).stopServer(StopServerRequest.newBuilder()
        .setServerId(stopMe.getId()).setTimeoutSeconds(3).build());
    system.servers(MEMBER).rebootServer(io.stratus.proto.conductor.v1.RebootServerRequest
        .newBuilder().setServerId(rebootMe.getId())
        .setType(io.stratus.proto.conductor.v1.RebootType.REBOOT_TYPE_HARD).build());
    awaitTask(snap, Set.of(TaskState.TASK_STATE_IMAGE_UPLOADING));

    long crashed = System.nanoTime();
    system.postgres.crashAndRestart(Duration.ofSeconds(3));

    Server s1 = system.awaitIdle(snap, Duration.ofSeconds(180));
    Server s2 = system.awaitIdle(stopMe.getId(), Duration.ofSeconds(180));
    Server s3 = system.awaitIdle(rebootMe.getId(), Duration.ofSeconds(180));
    System.out.printf("[crash-recovery] PostgreSQL crashed (down 3 s) under 3 operations:"
        + " all settled %d ms after the crash%n", (System.nanoTime() - crashed) / 1_000_000);
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, system.images().getImage(
        GetImageRequest.newBuilder().setImageId(imageId).build()).getImage().getStatus(),
        "the snapshot ends active: " + s1.getFault());
    assertEquals(VmState.VM_STATE_STOPPED, s2.getVmState(), s2.getFault().toString());
    assertEquals("shut off", StratusSystem.domstate(stopMe.getId()));
    assertEquals(VmState.VM_STATE_ACTIVE, s3.getVmState(), s3.getFault().toString());
    assertEquals("running", StratusSystem.domstate(rebootMe.getId()));
    for (String id : List.of(snap, stopMe.getId(), rebootMe.getId())) {
      for (var action : system.servers(MEMBER).listServerActions(
          io.stratus.proto.conductor.v1.ListServerActionsRequest.newBuilder().setServerId(id)
              .build()).getActionsList()) {
        for (var e : action.getEventsList()) {
          assertTrue(!e.getResult().isEmpty(), "every step of " + action.getAction() + " on "
              + id + " finished: " + action);
        }
      }
    }
    assertEquals(List.of(), Leftovers.find(system, null));
  }

  @Test
  void aConductorKilledMidStopIsReplacedAndTheStopCompletesOnce() throws Exception {
    Server s = system.boot("stop-crash", base);
    system.servers(MEMBER).stopServer(StopServerRequest.newBuilder().setServerId(s.getId())
        .setTimeoutSeconds(5).build());  // firmware ignores ACPI: 5 s, then destroy
    awaitTask(s.getId(), Set.of(TaskState.TASK_STATE_POWERING_OFF));
    system.killConductor();
    system.restartConductor("conductor-restarted-2");
    Server after = system.awaitIdle(s.getId(), Duration.ofSeconds(120));
    assertEquals(VmState.VM_STATE_STOPPED, after.getVmState());
    assertEquals("shut off", StratusSystem.domstate(s.getId()));
  }

  @Test
  void aGuestDestroyedBehindTheSystemsBackIsRecordedStoppedAndLeftOff() throws Exception {
    Server s = system.boot("killed-behind-our-back", base);
    Libvirt.virsh("destroy", StratusSystem.domain(s.getId()));  // e.g. the OOM killer
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    Server now = system.get(s.getId());
    while (now.getVmState() != VmState.VM_STATE_STOPPED || now.getTaskState() != TaskState.TASK_STATE_NONE) {
      assertTrue(System.nanoTime() < deadline, "the power-state sync never noticed: " + now);
      Thread.sleep(200);
      now = system.get(s.getId());
    }
    assertEquals(io.stratus.proto.conductor.v1.PowerState.POWER_STATE_SHUTDOWN, now.getPowerState());
    var actions = system.servers(MEMBER).listServerActions(
        io.stratus.proto.conductor.v1.ListServerActionsRequest.newBuilder()
            .setServerId(s.getId()).build()).getActionsList();
    assertTrue(actions.stream().anyMatch(a -> a.getAction().equals("stop")
        && a.getUserId().equals("power-sync")), actions.toString());
    Thread.sleep(3000);  // more sync rounds: nothing restarts it
    assertEquals("shut off", StratusSystem.domstate(s.getId()));
    assertEquals(VmState.VM_STATE_STOPPED, system.get(s.getId()).getVmState());
  }

  @Test
  void anAgentKilledMidUploadLeavesTheGuestRunningAndNothingBehindOnceRestarted()
      throws Exception {
    String id = bigServer("killed-agent");
    // Enough data that the upload takes seconds: the kill must land while it runs (with only
    // the base image's 16 MiB it sometimes finished first, and the image then stayed active).
    StratusSystem.guestWrite(id, 0x6b, 1L << 30, 512L << 20);
    String imageId = system.servers(MEMBER).createImage(CreateImageRequest.newBuilder()
        .setServerId(id).setName("interrupted").build()).getImageId();
    awaitTask(id, Set.of(TaskState.TASK_STATE_IMAGE_UPLOADING));
    system.killAgent();
    // The conductor sees the stream break and tries to re-attach; the restarted agent does
    // not know the operation (it died with the process), so the conductor cleans up.
    system.restartAgent("compute-agent-restarted");

    Server after = system.awaitIdle(id, Duration.ofSeconds(120));
    assertEquals(VmState.VM_STATE_ACTIVE, after.getVmState());
    assertTrue(after.getFault().getMessage().startsWith("UNAVAILABLE: the agent lost the operation"),
        after.getFault().toString());
    StatusRuntimeException gone = assertThrows(StatusRuntimeException.class,
        () -> system.images().getImage(GetImageRequest.newBuilder().setImageId(imageId).build()));
    assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode());
    assertEquals("running", StratusSystem.domstate(id), "the guest never stopped");

    // The restarted agent committed the overlay the crash left in the chain.
    String chain = new String(new ProcessBuilder("qemu-img", "info", "-U", "--backing-chain",
        system.disk(id).toString()).start().getInputStream().readAllBytes());
    assertTrue(!chain.contains(".stratus-snap-"), chain);
    String xml = Libvirt.virsh("dumpxml", StratusSystem.domain(id));
    assertTrue(xml.contains(system.disk(id).toString()) && !xml.contains(".stratus-snap-"),
        "the guest writes to its own disk again");
    try (var files = Files.walk(system.root.resolve("instances"))) {
      assertEquals(List.of(), files.filter(f -> f.toString().contains(".stratus-snap-")).toList());
    }
  }
}
