package io.stratus.agent.hypervisor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.agent.hypervisor.Hypervisor.DiskInfo;
import io.stratus.agent.hypervisor.Hypervisor.DomainSpec;
import io.stratus.agent.hypervisor.Hypervisor.Power;
import io.stratus.agent.hypervisor.libvirt.LibvirtHypervisor;
import io.stratus.testkit.Libvirt;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The adapter against the real system libvirtd with firmware-only TCG guests: an external
 * disk-only snapshot freezes the base image while the guest keeps writing to the overlay, an
 * active commit with pivot folds the overlay back, and Nova's hard-reboot sequence is timed.
 */
class QemuDiskSnapshotTest {

  private static final Logger LOG = LoggerFactory.getLogger(QemuDiskSnapshotTest.class);
  private static final String RUN_PREFIX =
      Libvirt.TEST_DOMAIN_PREFIX + UUID.randomUUID().toString().substring(0, 8) + "-";
  private static final Duration TOOL_TIMEOUT = Duration.ofSeconds(30);
  /** The guest's disk as a qdev path, for writing through the device with HMP qemu-io. */
  private static final String GUEST_DISK = "/machine/peripheral/virtio-disk0/virtio-backend";

  private static String uri;

  @BeforeAll
  static void startLibvirt() {
    uri = Libvirt.ensureRunning();
  }

  @AfterAll
  static void noDomainLeftBehind() {
    Libvirt.destroyDomainsWithPrefix(RUN_PREFIX);
    assertFalse(Libvirt.virsh("list", "--all", "--name").contains(RUN_PREFIX));
  }

  @Test
  void diskOnlySnapshotThenActiveCommitWhileRunning() throws Exception {
    Path dir = Libvirt.scratchDir("disk-snapshot-test-");
    DomainSpec spec = spec("snap", dir.resolve("base.qcow2"));
    Path base = spec.rootDisk();
    Path overlay = dir.resolve("overlay.qcow2");
    try (LibvirtHypervisor hypervisor = new LibvirtHypervisor(uri)) {
      run("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "64M");
      run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 1M", base.toString());

      hypervisor.define(spec);
      long startAt = System.nanoTime();
      hypervisor.start(spec.uuid());
      awaitPower(hypervisor, spec.uuid(), Power.RUNNING);
      long startMs = millisSince(startAt);
      assertEquals(List.of(new DiskInfo("vda", base, "qcow2")), hypervisor.disks(spec.uuid()));

      long snapshotAt = System.nanoTime();
      hypervisor.snapshotDiskOnly(spec.uuid(), "vda", overlay);
      long snapshotMs = millisSince(snapshotAt);

      assertEquals(List.of(new DiskInfo("vda", overlay, "qcow2")), hypervisor.disks(spec.uuid()));
      String chain = run("qemu-img", "info", "-U", "--output=json", overlay.toString());
      assertTrue(chain.contains("\"backing-filename\": \"" + base + "\""), chain);
      // The base is read-only for qemu now: no one else may take the write lock either.
      Libvirt.Result locked = Libvirt.run(TOOL_TIMEOUT, "qemu-io", "-f", "qcow2", "-c",
          "write -P 0x5a 0 1M", base.toString());
      assertNotEquals(0, locked.exitCode(), locked.describe());
      assertTrue(locked.stderr().contains("lock"), locked.describe());
      // Guest writes land in the overlay; the base keeps what it had.
      guestWrite(spec, "0xa5", "1M");
      assertPattern(overlay, "0xa5", "1M");
      assertPattern(base, "0", "1M");
      assertPattern(base, "0x5a", "0");

      long commitAt = System.nanoTime();
      hypervisor.commitActive(spec.uuid(), "vda", Duration.ofSeconds(20));
      long commitMs = millisSince(commitAt);

      assertEquals(List.of(new DiskInfo("vda", base, "qcow2")), hypervisor.disks(spec.uuid()));
      assertPattern(base, "0xa5", "1M");
      assertPattern(base, "0x5a", "0");
      String baseInfo = run("qemu-img", "info", "-U", "--output=json", base.toString());
      assertFalse(baseInfo.contains("backing-filename"), baseInfo);
      Files.delete(overlay);
      guestWrite(spec, "0x3c", "2M");
      assertPattern(base, "0x3c", "2M");
      assertEquals(Power.RUNNING, hypervisor.find(spec.uuid()).orElseThrow().power());

      hypervisor.destroy(spec.uuid());
      hypervisor.undefine(spec.uuid());
      assertEquals(Optional.empty(), hypervisor.find(spec.uuid()));
      assertFalse(Libvirt.virsh("list", "--all", "--name").contains(spec.name()));
      LOG.info("domain {}: start to RUNNING {} ms, disk-only snapshot {} ms, "
          + "active commit + pivot {} ms", spec.uuid(), startMs, snapshotMs, commitMs);
    } finally {
      Libvirt.destroyDomainsWithPrefix(spec.name());
      deleteRecursively(dir);
    }
  }

  @Test
  void commitTimeoutAbortsTheJobAndLeavesTheGuestOnTheOverlay() throws Exception {
    Path dir = Libvirt.scratchDir("commit-timeout-test-");
    DomainSpec spec = spec("timeout", dir.resolve("base.qcow2"));
    Path overlay = dir.resolve("overlay.qcow2");
    try (LibvirtHypervisor hypervisor = new LibvirtHypervisor(uri)) {
      run("qemu-img", "create", "-q", "-f", "qcow2", spec.rootDisk().toString(), "64M");
      hypervisor.define(spec);
      hypervisor.start(spec.uuid());
      awaitPower(hypervisor, spec.uuid(), Power.RUNNING);
      hypervisor.snapshotDiskOnly(spec.uuid(), "vda", overlay);
      // Enough data in the overlay that the commit cannot be ready at the first poll.
      String out = Libvirt.virsh("qemu-monitor-command", "--hmp", spec.name(),
          "qemu-io -d " + GUEST_DISK + " \"write -P 0x11 4M 48M\"");
      assertTrue(out.isBlank(), "HMP qemu-io said: " + out);

      HypervisorException e = assertThrows(HypervisorException.class,
          () -> hypervisor.commitActive(spec.uuid(), "vda", Duration.ZERO));
      assertEquals(HypervisorException.Kind.FAILED, e.kind());
      assertTrue(e.getMessage().startsWith(
          "active commit of vda of domain " + spec.uuid() + ": timed out after"), e.getMessage());
      assertEquals(List.of(new DiskInfo("vda", overlay, "qcow2")), hypervisor.disks(spec.uuid()));
      Libvirt.Result job = Libvirt.virshResult("blockjob", spec.name(), "vda", "--raw");
      assertEquals(0, job.exitCode(), job.describe());
      assertFalse(job.stdout().contains("type="), "block job left behind: " + job.describe());
      assertEquals(Power.RUNNING, hypervisor.find(spec.uuid()).orElseThrow().power());

      // A second attempt with time to spare succeeds.
      hypervisor.commitActive(spec.uuid(), "vda", Duration.ofSeconds(20));
      assertEquals(List.of(new DiskInfo("vda", spec.rootDisk(), "qcow2")),
          hypervisor.disks(spec.uuid()));
      assertPattern(spec.rootDisk(), "0x11", "4M");

      hypervisor.destroy(spec.uuid());
      hypervisor.undefine(spec.uuid());
      assertEquals(Optional.empty(), hypervisor.find(spec.uuid()));
    } finally {
      Libvirt.destroyDomainsWithPrefix(spec.name());
      deleteRecursively(dir);
    }
  }

  @Test
  void hardRebootSequence() throws Exception {
    Path dir = Libvirt.scratchDir("hard-reboot-test-");
    DomainSpec spec = spec("reboot", dir.resolve("disk.qcow2"));
    try (LibvirtHypervisor hypervisor = new LibvirtHypervisor(uri)) {
      run("qemu-img", "create", "-q", "-f", "qcow2", spec.rootDisk().toString(), "64M");
      hypervisor.define(spec);
      hypervisor.start(spec.uuid());
      awaitPower(hypervisor, spec.uuid(), Power.RUNNING);

      long t0 = System.nanoTime();
      hypervisor.destroy(spec.uuid());
      long t1 = System.nanoTime();
      hypervisor.undefine(spec.uuid());
      long t2 = System.nanoTime();
      hypervisor.define(spec);
      long t3 = System.nanoTime();
      hypervisor.start(spec.uuid());
      long t4 = System.nanoTime();
      awaitPower(hypervisor, spec.uuid(), Power.RUNNING);
      long t5 = System.nanoTime();

      LOG.info("domain {}: hard reboot {} ms (destroy {}, undefine {}, define {}, start {}, "
          + "until RUNNING {})", spec.uuid(), millis(t5 - t0), millis(t1 - t0), millis(t2 - t1),
          millis(t3 - t2), millis(t4 - t3), millis(t5 - t4));
      assertEquals(List.of(new DiskInfo("vda", spec.rootDisk(), "qcow2")),
          hypervisor.disks(spec.uuid()));

      hypervisor.destroy(spec.uuid());
      hypervisor.undefine(spec.uuid());
      assertEquals(Optional.empty(), hypervisor.find(spec.uuid()));
    } finally {
      Libvirt.destroyDomainsWithPrefix(spec.name());
      deleteRecursively(dir);
    }
  }

  private static DomainSpec spec(String suffix, Path disk) {
    return new DomainSpec(UUID.randomUUID().toString(), RUN_PREFIX + suffix, 1, 128, disk,
        "qcow2");
  }

  private static void awaitPower(Hypervisor hypervisor, String uuid, Power power)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    Power last = null;
    while (System.nanoTime() - deadline < 0) {
      last = hypervisor.find(uuid).map(Hypervisor.DomainInfo::power).orElse(null);
      if (last == power) {
        return;
      }
      Thread.sleep(10);
    }
    throw new AssertionError("domain " + uuid + " is " + last + ", not " + power + ", after 10 s");
  }

  /** Writes 1 MiB of {@code pattern} at {@code offset} through the guest's disk device. */
  private static void guestWrite(DomainSpec spec, String pattern, String offset) {
    String out = Libvirt.virsh("qemu-monitor-command", "--hmp", spec.name(),
        "qemu-io -d " + GUEST_DISK + " \"write -P " + pattern + " " + offset + " 1M\"");
    assertTrue(out.isBlank(), "HMP qemu-io said: " + out);
  }

  private static void assertPattern(Path image, String pattern, String offset) {
    run("qemu-io", "-r", "-U", "-f", "qcow2", "-c", "read -P " + pattern + " " + offset + " 1M",
        image.toString());
  }

  /** Runs a tool; fails the test unless it exits 0 and says nothing about a failed pattern. */
  private static String run(String... command) {
    Libvirt.Result result = Libvirt.run(TOOL_TIMEOUT, command);
    assertEquals(0, result.exitCode(), result.describe());
    assertFalse(result.stdout().contains("verification failed"), result.describe());
    return result.stdout();
  }

  private static long millisSince(long startedAt) {
    return millis(System.nanoTime() - startedAt);
  }

  private static long millis(long nanos) {
    return nanos / 1_000_000;
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }
}
