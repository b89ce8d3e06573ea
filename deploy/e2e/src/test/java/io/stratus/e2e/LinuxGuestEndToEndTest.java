package io.stratus.e2e;

import static io.stratus.e2e.StratusSystem.MEMBER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.proto.conductor.v1.CreateImageRequest;
import io.stratus.proto.conductor.v1.RebootServerRequest;
import io.stratus.proto.conductor.v1.RebootType;
import io.stratus.proto.conductor.v1.Server;
import io.stratus.proto.conductor.v1.StartServerRequest;
import io.stratus.proto.conductor.v1.StopServerRequest;
import io.stratus.proto.conductor.v1.VmState;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.testkit.GuestConsole;
import io.stratus.testkit.Libvirt;
import io.stratus.testkit.LinuxGuest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The power operations and live snapshots on a guest that runs an operating system (the
 * {@link LinuxGuest}: Debian kernel, busybox, qemu-guest-agent, ext4 root), through the
 * real conductor, agent and gateway processes. What the guest did is read from its serial
 * console, which the agent keeps in the instance's {@code console.log}: a stop is the
 * guest's own ACPI poweroff; a quiesced snapshot froze the file system through the real
 * guest agent and boots back with every file complete before the freeze; one without the
 * agent is crash-consistent. The timings are printed ({@code [linux-guest]} lines).
 */
class LinuxGuestEndToEndTest {
  static StratusSystem system;
  /** The guest with hw_qemu_guest_agent=yes: the domain gets the agent's channel. */
  static String withAgent;
  /** The same disk without the property: no channel, no quiesce. */
  static String withoutAgent;

  @BeforeAll
  static void start() throws Exception {
    Path raw = LinuxGuest.image();
    system = new StratusSystem();
    withAgent = LinuxGuestChecks.upload(system, "linux-qga", raw, Map.of("hw_qemu_guest_agent", "yes"));
    withoutAgent = LinuxGuestChecks.upload(system, "linux-plain", raw, Map.of());
  }

  @AfterAll
  static void stop() throws Exception {
    if (system != null) {
      system.close();
    }
  }

  private static void report(String format, Object... args) {
    System.out.println("[linux-guest] " + String.format(format, args));
  }

  private static long msSince(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  private static String reason(String serverId) {
    return Libvirt.virsh("domstate", "--reason", StratusSystem.domain(serverId)).strip();
  }

  private static Server stopServer(String id, int timeoutSeconds) throws Exception {
    system.servers(MEMBER).stopServer(StopServerRequest.newBuilder().setServerId(id)
        .setTimeoutSeconds(timeoutSeconds).build());
    return system.awaitIdle(id, Duration.ofSeconds(timeoutSeconds + 60));
  }

  private static String snapshot(String serverId, String name) throws Exception {
    String imageId = system.servers(MEMBER).createImage(CreateImageRequest.newBuilder()
        .setServerId(serverId).setName(name).build()).getImageId();
    Server s = system.awaitIdle(serverId, Duration.ofSeconds(180));
    assertTrue(!s.hasFault() || s.getFault().getMessage().isEmpty(), "snapshot failed: " + s.getFault());
    Image image = system.images().getImage(GetImageRequest.newBuilder().setImageId(imageId).build())
        .getImage();
    assertEquals(ImageStatus.IMAGE_STATUS_ACTIVE, image.getStatus());
    return imageId;
  }

  @Test
  void aStopIsTheGuestsOwnCleanPoweroffAndStartAndHardRebootBootItAgain() throws Exception {
    long created = System.nanoTime();
    Server s = system.boot("linux-power", withAgent, LinuxGuest.MEMORY_MIB);
    Path log = system.consoleLog(s.getId());
    GuestConsole c = LinuxGuestChecks.awaitReady(log, 1);
    report("first boot: CreateServer to ready %d ms (guest uptime at ready %.2f s)",
        msSince(created), c.lastBoot().readyUptime());
    assertEquals(0, c.lastBoot().fsckExitCode().orElse(-1), c.tail(30));

    long stopping = System.nanoTime();
    Server stopped = stopServer(s.getId(), 60);
    long stopMs = msSince(stopping);
    assertEquals(VmState.VM_STATE_STOPPED, stopped.getVmState());
    assertEquals("shut off (shutdown)", reason(s.getId()), "the guest powered itself off: no destroy");
    // virtlogd may write the guest's last lines a moment after qemu ended
    GuestConsole.await(log, Duration.ofSeconds(10), "the guest's poweroff", x ->
        x.lastBoot().says("stratus-guest: ACPI power button: powering off")
            && x.lastBoot().says("stratus-guest: clean shutdown: / remounted read-only")
            && x.lastBoot().says("reboot: Power down"));
    report("StopServer by ACPI: %d ms", stopMs);

    long starting = System.nanoTime();
    system.servers(MEMBER).startServer(StartServerRequest.newBuilder().setServerId(s.getId()).build());
    c = LinuxGuestChecks.awaitReady(log, 2);
    report("StartServer to ready %d ms", msSince(starting));
    assertEquals(VmState.VM_STATE_ACTIVE, system.awaitIdle(s.getId(), Duration.ofSeconds(60)).getVmState());
    assertTrue(c.lastBoot().journalClean(), "a clean shutdown leaves a clean journal:\n" + c.tail(30));
    assertEquals(0, c.lastBoot().fsckExitCode().orElse(-1), c.tail(30));
    assertEquals(2, c.lastBoot().ready().orElse(-1), "the disk kept its boot count");

    long rebooting = System.nanoTime();
    system.servers(MEMBER).rebootServer(RebootServerRequest.newBuilder().setServerId(s.getId())
        .setType(RebootType.REBOOT_TYPE_HARD).build());
    c = LinuxGuestChecks.awaitReady(log, 3);
    report("hard RebootServer to ready %d ms (journal %s before the boot)", msSince(rebooting),
        c.lastBoot().journalClean() ? "clean" : "replayed");
    assertEquals(VmState.VM_STATE_ACTIVE, system.awaitIdle(s.getId(), Duration.ofSeconds(60)).getVmState());
    assertEquals(0, c.lastBoot().fsckExitCode().orElse(-1), "a hard reboot loses no consistency:\n" + c.tail(30));
    assertEquals("running", StratusSystem.domstate(s.getId()));

    long softly = System.nanoTime();
    system.servers(MEMBER).rebootServer(RebootServerRequest.newBuilder().setServerId(s.getId())
        .setType(RebootType.REBOOT_TYPE_SOFT).build());
    c = LinuxGuestChecks.awaitReady(log, 4);
    report("soft RebootServer to ready %d ms", msSince(softly));
    assertEquals(VmState.VM_STATE_ACTIVE, system.awaitIdle(s.getId(), Duration.ofSeconds(60)).getVmState());
    assertTrue(c.lastBoot().journalClean(), "a soft reboot shuts the guest down cleanly first:\n"
        + c.tail(30));
    var reboot = system.servers(MEMBER).listServerActions(
        io.stratus.proto.conductor.v1.ListServerActionsRequest.newBuilder().setServerId(s.getId())
            .build()).getActions(0);
    assertEquals("reboot", reboot.getAction());
    assertEquals("soft reboot", reboot.getEvents(0).getDetails(), "no fallback to a hard one");
  }

  @Test
  void aGuestThatIgnoresAcpiIsPoweredOffOnlyAfterTheTimeout() throws Exception {
    Server s = system.boot("linux-deaf", withAgent, LinuxGuest.MEMORY_MIB);
    Path log = system.consoleLog(s.getId());
    LinuxGuestChecks.awaitReady(log, 1);
    // acpid is what turns the power button into a poweroff: without it the guest ignores it
    var killed = LinuxGuestChecks.guestExec(StratusSystem.domain(s.getId()), "/bin/busybox", "killall", "acpid");
    assertEquals(0, killed.exitCode(), killed.toString());

    long stopping = System.nanoTime();
    Server stopped = stopServer(s.getId(), 5);
    long stopMs = msSince(stopping);
    assertEquals(VmState.VM_STATE_STOPPED, stopped.getVmState());
    assertEquals("shut off (destroyed)", reason(s.getId()));
    assertTrue(stopMs >= 5_000, "powered off before the clean-shutdown timeout: " + stopMs + " ms");
    Thread.sleep(1000);  // what virtlogd still had to write
    GuestConsole.Boot boot = GuestConsole.read(log).lastBoot();
    assertFalse(boot.says("ACPI power button"), String.join("\n", boot.lines()));
    assertFalse(boot.says("reboot: Power down"), String.join("\n", boot.lines()));
    report("StopServer of a guest ignoring ACPI, timeout 5 s: destroyed after %d ms", stopMs);
  }

  @Test
  void aQuiescedLiveSnapshotHoldsEveryFileCompleteBeforeTheFreezeAndTheGuestRunsOn() throws Exception {
    Server s = system.boot("linux-quiesce", withAgent, LinuxGuest.MEMORY_MIB);
    Path log = system.consoleLog(s.getId());
    LinuxGuestChecks.awaitWriting(log, 20);

    long snapping = System.nanoTime();
    String imageId = snapshot(s.getId(), "linux-quiesced");
    long snapshotMs = msSince(snapping);
    assertEquals("running", StratusSystem.domstate(s.getId()), "the guest kept running");
    Image image = system.images().getImage(GetImageRequest.newBuilder().setImageId(imageId).build()).getImage();
    assertEquals("yes", image.getPropertiesMap().get("hw_qemu_guest_agent"), "inherited from the boot image");

    // the guest goes on writing after the thaw
    GuestConsole c = GuestConsole.await(log, Duration.ofSeconds(60), "files written after the thaw",
        x -> x.lastBoot().completedAfterThaw() >= 5);
    GuestConsole.Boot source = c.lastBoot();
    double[] window = source.freezeWindow();
    assertEquals(2, window.length, "the hook ran for freeze and for thaw:\n" + c.tail(40));
    var syslog = LinuxGuestChecks.guestExec(StratusSystem.domain(s.getId()), "/bin/cat", "/run/messages");
    assertTrue(syslog.stdout().contains("guest-fsfreeze called"), "qemu-ga's own log: " + syslog);

    long cloning = System.nanoTime();
    Server clone = system.boot("linux-quiesce-clone", imageId, LinuxGuest.MEMORY_MIB);
    GuestConsole.Boot back = LinuxGuestChecks.awaitReady(system.consoleLog(clone.getId()), 1).lastBoot();
    int files = LinuxGuestChecks.assertHoldsEveryFileCompleteBeforeTheFreeze(source, back);
    report("quiesced live snapshot: CreateImage to active %d ms; guest frozen %.0f ms (its hook's"
        + " uptimes); %d files complete before the freeze, %d in the image, all verified;"
        + " clone CreateServer to ready %d ms", snapshotMs, (window[1] - window[0]) * 1000,
        source.completedBeforeFreeze().size(), files, msSince(cloning));
  }

  @Test
  void aLiveSnapshotWithoutTheGuestAgentIsCrashConsistent() throws Exception {
    Server s = system.boot("linux-crash", withoutAgent, LinuxGuest.MEMORY_MIB);
    Path log = system.consoleLog(s.getId());
    GuestConsole c = LinuxGuestChecks.awaitWriting(log, 20);
    assertTrue(c.lastBoot().says("stratus-guest: no guest agent channel"), c.tail(30));

    long snapping = System.nanoTime();
    String imageId = snapshot(s.getId(), "linux-crash-consistent");
    long snapshotMs = msSince(snapping);
    assertEquals("running", StratusSystem.domstate(s.getId()), "the guest kept running");
    GuestConsole.Boot source = GuestConsole.read(log).lastBoot();
    assertFalse(source.says("stratus-qga-hook"), "nothing froze this guest");

    Server clone = system.boot("linux-crash-clone", imageId, LinuxGuest.MEMORY_MIB);
    GuestConsole.Boot back = LinuxGuestChecks.awaitReady(system.consoleLog(clone.getId()), 1).lastBoot();
    assertFalse(back.journalClean(), "a file system snapshotted while mounted needs its journal"
        + " replayed:\n" + String.join("\n", back.lines()));
    assertTrue(back.says("stratus-initramfs: journal replay rc="), String.join("\n", back.lines()));
    assertEquals(0, back.fsckExitCode().orElse(-1), "after the journal replay e2fsck finds"
        + " nothing:\n" + String.join("\n", back.lines()));
    GuestConsole.Verified v = back.verified().get("boot-" + source.ready().orElseThrow());
    assertTrue(v != null, String.join("\n", back.lines()));
    report("crash-consistent live snapshot: CreateImage to active %d ms; journal replayed, fsck"
        + " clean; %d files in the image's manifest, %d verified, %d not (written after the last"
        + " commit)", snapshotMs, v.files(), v.ok(), v.bad());
  }
}
