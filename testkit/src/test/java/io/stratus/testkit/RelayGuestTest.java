package io.stratus.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Boots a {@link RelayGuest} on the system libvirtd and checks that
 * {@code virsh domfsfreeze}/{@code domfsthaw} really reach a {@link QgaStub}
 * through libvirt, qemu and the guest's relay, including an injected failure.
 */
class RelayGuestTest {

    private static final Logger LOG = LoggerFactory.getLogger(RelayGuestTest.class);

    /** Unique to this JVM, so parallel runs and leftovers of other runs are never touched. */
    private static final String RUN_PREFIX = Libvirt.TEST_DOMAIN_PREFIX + "relay-"
            + UUID.randomUUID().toString().substring(0, 8) + "-";

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(60);
    private static final Pattern AGENT_CONNECTED = Pattern.compile(
            "name='" + Pattern.quote(RelayGuest.AGENT_CHANNEL) + "'\\s+state='connected'");

    @BeforeAll
    static void startLibvirt() {
        Libvirt.ensureRunning();
    }

    @AfterAll
    static void removeLeftovers() {
        Libvirt.destroyDomainsWithPrefix(RUN_PREFIX);
    }

    @Test
    void freezeAndThawReachTheStubThroughTheRelayGuest() throws Exception {
        long prepareAt = System.nanoTime();
        RelayGuest.Files files = RelayGuest.prepare();
        long preparedMs = millisSince(prepareAt);
        assertSame(files, RelayGuest.prepare(), "a second prepare() must not run the script again");
        assertTrue(Files.size(files.kernel()) > 1_000_000, files.kernel() + " is too small for a kernel");
        assertTrue(Files.size(files.initrd()) > 100_000, files.initrd() + " is too small for the initramfs");

        Path dir = Libvirt.scratchDir("relay-guest-test-");
        String name = RUN_PREFIX + "guest";
        try (QgaStub stub = QgaStub.start(dir.resolve("stub.sock"))) {
            try {
                Path disk = dir.resolve("disk.qcow2");
                Libvirt.Result created = Libvirt.run(Duration.ofSeconds(30),
                        "qemu-img", "create", "-q", "-f", "qcow2", disk.toString(), "64M");
                assertEquals(0, created.exitCode(), created.describe());
                String diskXml = "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                        + "<source file='" + disk + "'/><target dev='vda' bus='virtio'/></disk>";
                Path xml = dir.resolve(name + ".xml");
                Files.writeString(xml, RelayGuest.domainXml(name, UUID.randomUUID().toString(),
                        List.of(diskXml), stub.socket()), StandardCharsets.UTF_8);

                long createAt = System.nanoTime();
                Libvirt.virsh("create", xml.toString());
                long createdMs = millisSince(createAt);
                awaitAgentConnected(name, stub);
                long connectedMs = millisSince(createAt);
                assertTrue(stub.connected(), "qemu must be connected to the stub");
                String console = awaitConsoleLine(RelayGuest.consoleLog(name, stub.socket()), RelayGuest.READY_LINE);

                // freeze, then thaw: both reach the stub, in order, and toggle its state.
                stub.clearCommands();
                long freezeAt = System.nanoTime();
                String froze = virshVerbose("domfsfreeze", name);
                long freezeMs = millisSince(freezeAt);
                assertTrue(froze.contains("Froze 1 filesystem"), froze);
                assertTrue(stub.frozen(), "the stub must be frozen after domfsfreeze");
                long thawAt = System.nanoTime();
                String thawed = virshVerbose("domfsthaw", name);
                long thawMs = millisSince(thawAt);
                assertTrue(thawed.contains("Thawed 1 filesystem"), thawed);
                assertFalse(stub.frozen(), "the stub must be thawed after domfsthaw");
                List<QgaStub.Command> seen = stub.commands().stream()
                        .filter(c -> !c.execute().equals("guest-sync"))
                        .toList();
                assertEquals(List.of("guest-fsfreeze-freeze", "guest-fsfreeze-thaw"),
                        seen.stream().map(QgaStub.Command::execute).toList(), "commands: " + stub.commands());
                assertTrue(seen.get(0).nanoTime() < seen.get(1).nanoTime());

                // An injected freeze error reaches virsh with its text; nothing is frozen.
                stub.failNext("guest-fsfreeze-freeze", "injected");
                long failAt = System.nanoTime();
                Libvirt.Result failed = Libvirt.virshResult("domfsfreeze", name);
                long failMs = millisSince(failAt);
                assertNotEquals(0, failed.exitCode(), failed.describe());
                assertTrue(failed.stderr().contains("injected"), failed.describe());
                assertFalse(stub.frozen());

                // The agent still works afterwards.
                stub.filesystems(2);
                assertTrue(virshVerbose("domfsfreeze", name).contains("Froze 2 filesystem"));
                assertTrue(stub.frozen());
                assertTrue(virshVerbose("domfsthaw", name).contains("Thawed 2 filesystem"));
                assertFalse(stub.frozen());

                LOG.info("relay guest {}: prepare {} ms, virsh create {} ms, boot to agent connected {} ms,"
                        + " freeze round trip {} ms, thaw {} ms, failing freeze {} ms; virsh said: {} / {} / {}",
                        name, preparedMs, createdMs, connectedMs, freezeMs, thawMs, failMs, froze, thawed,
                        failed.stderr().strip().replace('\n', ' '));
                LOG.debug("console of {}:\n{}", name, console);
            } finally {
                Libvirt.destroyDomainsWithPrefix(name);
            }
        } finally {
            Dirs.deleteRecursively(dir);
        }
    }

    /**
     * Runs virsh without {@code -q} (which would hide "Froze N filesystem(s)"),
     * failing on a non-zero exit; returns standard output, stripped.
     */
    private static String virshVerbose(String... args) {
        List<String> command = new ArrayList<>(List.of("virsh", "-c", Libvirt.ensureRunning()));
        command.addAll(List.of(args));
        Libvirt.Result result = Libvirt.run(Duration.ofSeconds(60), command.toArray(String[]::new));
        assertEquals(0, result.exitCode(), result.describe());
        return result.stdout().strip();
    }

    /** Waits up to 10 s for a console line containing {@code text}; returns the whole console log. */
    private static String awaitConsoleLine(Path console, String text) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String log = "";
        while (System.nanoTime() < deadline) {
            log = Files.isReadable(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
            if (log.contains(text)) {
                return log;
            }
            Thread.sleep(100);
        }
        return fail("no '" + text + "' on the console " + console + " within 10 s:\n" + log);
    }

    /** Polls {@code virsh dumpxml} until the agent channel says {@code state='connected'}. */
    private static void awaitAgentConnected(String name, QgaStub stub) throws Exception {
        long deadline = System.nanoTime() + CONNECT_TIMEOUT.toNanos();
        String xml = "";
        while (System.nanoTime() < deadline) {
            xml = Libvirt.virsh("dumpxml", name);
            if (AGENT_CONNECTED.matcher(xml).find()) {
                return;
            }
            Thread.sleep(200);
        }
        Path console = RelayGuest.consoleLog(name, stub.socket());
        String log = Files.isReadable(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "(none)";
        fail("the guest agent of " + name + " is not connected " + CONNECT_TIMEOUT.toSeconds()
                + " s after start (stub connected: " + stub.connected() + ")\n--- console " + console + " ---\n"
                + log + "\n--- channels ---\n"
                + xml.lines().filter(l -> l.contains("<target type='virtio'")).toList());
    }

    private static long millisSince(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
    }
}
