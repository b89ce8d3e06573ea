package io.stratus.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Boots real (firmware-only) TCG guests on the system libvirtd that libvirt-up.sh provides. */
class LibvirtTest {

    private static final Logger LOG = LoggerFactory.getLogger(LibvirtTest.class);

    /** Unique to this JVM, so parallel runs and leftovers of other runs are never touched. */
    private static final String RUN_PREFIX = Libvirt.TEST_DOMAIN_PREFIX + shortId() + "-";

    @BeforeAll
    static void startLibvirt() {
        long startedAt = System.nanoTime();
        assertEquals(Libvirt.DEFAULT_URI, Libvirt.ensureRunning());
        LOG.info("ensureRunning() took {} ms", millisSince(startedAt));
        long again = System.nanoTime();
        assertEquals(Libvirt.DEFAULT_URI, Libvirt.ensureRunning());
        assertTrue(millisSince(again) < 50, "second ensureRunning() must not run the script again");
    }

    @AfterAll
    static void removeLeftovers() {
        Libvirt.destroyDomainsWithPrefix(RUN_PREFIX);
        assertEquals(List.of(), domainsStartingWith(RUN_PREFIX));
    }

    @Test
    void tcgGuestStartsRunsAndIsRemoved() throws Exception {
        Path dir = Libvirt.scratchDir("libvirt-test-");
        String name = RUN_PREFIX + "guest";
        try {
            Path disk = dir.resolve("disk.qcow2");
            Path xml = writeDomainXml(dir, name, disk);

            long definedAt = System.nanoTime();
            Libvirt.virsh("define", xml.toString());
            long startAt = System.nanoTime();
            Libvirt.virsh("start", name);
            long startReturnedAt = System.nanoTime();
            String state = awaitState(name, "running", Duration.ofSeconds(10));
            long runningAt = System.nanoTime();
            assertEquals("running", state);
            // libvirt (dynamic_ownership) hands the disk to qemu's user while it runs.
            assertEquals(Libvirt.QEMU_USER, Files.getOwner(disk).getName());

            Libvirt.virsh("destroy", name);
            long destroyedAt = System.nanoTime();
            assertEquals("shut off", Libvirt.virsh("domstate", name));
            Libvirt.virsh("undefine", name);
            long undefinedAt = System.nanoTime();

            Libvirt.Result gone = Libvirt.virshResult("domstate", name);
            assertNotEquals(0, gone.exitCode(), gone.describe());
            assertFalse(domainsStartingWith(RUN_PREFIX).contains(name));
            assertTrue(Files.isRegularFile(disk), "undefine must leave the disk file alone");

            LOG.info("guest {}: define {} ms, start {} ms, running after {} ms, destroy {} ms, undefine {} ms", name,
                    TimeUnit.NANOSECONDS.toMillis(startAt - definedAt),
                    TimeUnit.NANOSECONDS.toMillis(startReturnedAt - startAt),
                    TimeUnit.NANOSECONDS.toMillis(runningAt - startAt),
                    TimeUnit.NANOSECONDS.toMillis(destroyedAt - runningAt),
                    TimeUnit.NANOSECONDS.toMillis(undefinedAt - destroyedAt));
        } finally {
            Libvirt.destroyDomainsWithPrefix(name);
            Dirs.deleteRecursively(dir);
        }
    }

    @Test
    void destroyDomainsWithPrefixRemovesRunningAndStoppedDomainsOnlyWithThePrefix() throws Exception {
        Path dir = Libvirt.scratchDir("libvirt-prefix-test-");
        String prefix = RUN_PREFIX + "many-";
        String running = prefix + "running";
        String stopped = prefix + "stopped";
        String other = RUN_PREFIX + "other";
        try {
            for (String name : List.of(running, stopped, other)) {
                Libvirt.virsh("define", writeDomainXml(dir, name, dir.resolve(name + ".qcow2")).toString());
            }
            Libvirt.virsh("start", running);
            assertEquals("running", awaitState(running, "running", Duration.ofSeconds(10)));

            long startedAt = System.nanoTime();
            Libvirt.destroyDomainsWithPrefix(prefix);
            LOG.info("destroyDomainsWithPrefix removed 2 domains in {} ms", millisSince(startedAt));

            assertEquals(List.of(), domainsStartingWith(prefix));
            assertEquals("shut off", Libvirt.virsh("domstate", other), "a domain without the prefix is untouched");
            Libvirt.destroyDomainsWithPrefix(prefix); // nothing left: a no-op
        } finally {
            Libvirt.destroyDomainsWithPrefix(RUN_PREFIX);
            Dirs.deleteRecursively(dir);
        }
        assertEquals(List.of(), domainsStartingWith(RUN_PREFIX));
    }

    @Test
    void blankPrefixIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> Libvirt.destroyDomainsWithPrefix(""));
        assertThrows(IllegalArgumentException.class, () -> Libvirt.destroyDomainsWithPrefix("  "));
        assertThrows(IllegalArgumentException.class, () -> Libvirt.destroyDomainsWithPrefix(null));
    }

    @Test
    void scratchDirIsPrivateToRootAndQemu() throws Exception {
        Path dir = Libvirt.scratchDir("libvirt-perm-test-");
        try {
            assertTrue(Files.isDirectory(dir));
            assertTrue(dir.getFileName().toString().startsWith("libvirt-perm-test-"), dir.toString());
            if ("root".equals(System.getProperty("user.name"))) {
                assertEquals(Libvirt.QEMU_USER, Files.getOwner(dir).getName());
                assertEquals("rwxrwx---", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
                // qemu's user can really create files there (as for an NBD socket or a snapshot overlay).
                Libvirt.Result touch = Libvirt.run(Duration.ofSeconds(10),
                        "runuser", "-u", Libvirt.QEMU_USER, "--", "touch", dir.resolve("probe").toString());
                assertEquals(0, touch.exitCode(), touch.describe());
            }
            Path other = Libvirt.scratchDir("libvirt-perm-test-");
            assertNotEquals(dir, other);
            assertEquals(dir.getParent(), other.getParent());
            Dirs.deleteRecursively(other);
        } finally {
            Dirs.deleteRecursively(dir);
        }
        assertFalse(Files.exists(dir));
    }

    // ---------------------------------------------------------------- helpers

    /** Creates a 64 MiB qcow2 disk and the minimal TCG domain XML for it; returns the XML file. */
    private static Path writeDomainXml(Path dir, String name, Path disk) throws Exception {
        Libvirt.Result created = Libvirt.run(Duration.ofSeconds(30),
                "qemu-img", "create", "-q", "-f", "qcow2", disk.toString(), "64M");
        assertEquals(0, created.exitCode(), created.describe());
        String xml = """
                <domain type='qemu'>
                  <name>%s</name>
                  <memory unit='MiB'>128</memory>
                  <os><type arch='x86_64'>hvm</type></os>
                  <devices>
                    <disk type='file' device='disk'>
                      <driver name='qemu' type='qcow2'/>
                      <source file='%s'/>
                      <target dev='vda' bus='virtio'/>
                    </disk>
                  </devices>
                </domain>
                """.formatted(name, disk);
        Path file = dir.resolve(name + ".xml");
        Files.writeString(file, xml, StandardCharsets.UTF_8);
        return file;
    }

    private static String awaitState(String name, String wanted, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String state;
        do {
            state = Libvirt.virsh("domstate", name);
            if (state.equals(wanted)) {
                return state;
            }
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        return state;
    }

    private static List<String> domainsStartingWith(String prefix) {
        return Libvirt.virsh("list", "--all", "--name").lines()
                .map(String::strip)
                .filter(n -> n.startsWith(prefix))
                .toList();
    }

    private static String shortId() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    private static long millisSince(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
    }
}
