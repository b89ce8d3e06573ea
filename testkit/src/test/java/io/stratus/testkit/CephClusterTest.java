package io.stratus.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts a real single-node Ceph cluster and uses it through the rbd CLI. */
class CephClusterTest {

    private static final Logger LOG = LoggerFactory.getLogger(CephClusterTest.class);
    private static final long COMMAND_TIMEOUT_SECONDS = 120;

    @Test
    void rbdWorksAndCloseRemovesEverything(@TempDir Path tmp) throws Exception {
        long startNanos = System.nanoTime();
        CephCluster ceph = CephCluster.start();
        long startedNanos = System.nanoTime();
        Path dir = ceph.dir();
        List<Long> pids = ceph.pids();
        try {
            assertTrue(Files.isRegularFile(ceph.conf()), ceph.conf().toString());
            assertTrue(ceph.conf().startsWith(dir), ceph.conf() + " outside " + dir);
            assertEquals(ceph.fsid(), UUID.fromString(ceph.fsid()).toString());
            assertTrue(ceph.monHost().matches("v2:127\\.0\\.0\\.1:\\d+"), ceph.monHost());
            assertEquals("rbd", ceph.diskPool());
            assertEquals("images", ceph.imagePool());
            assertEquals(4, pids.size(), "mon, osd, mgr, supervisor: " + pids);
            for (long pid : pids) {
                assertTrue(Processes.isRunning(pid), "pid " + pid + " not running");
            }
            LOG.info("Ceph daemons' RSS: {}", rss(pids));

            String conf = ceph.conf().toString();
            String disk = ceph.diskPool() + "/x";
            rbd(conf, "create", "--size", "64", disk);
            String info = rbd(conf, "info", disk);
            assertTrue(info.contains("rbd image 'x'"), info);
            assertTrue(info.contains("size 64 MiB"), info);

            // An odd size on purpose: import and export must keep it exactly.
            byte[] data = new byte[1024 * 1024 + 12_345];
            new Random(42).nextBytes(data);
            Path in = tmp.resolve("in.bin");
            Path out = tmp.resolve("out.bin");
            Files.write(in, data);
            String image = ceph.imagePool() + "/imported";
            rbd(conf, "import", "--no-progress", in.toString(), image);
            rbd(conf, "export", "--no-progress", image, out.toString());
            assertArrayEquals(data, Files.readAllBytes(out), "exported bytes differ from the imported ones");

            String list = rbd(conf, "ls", ceph.imagePool());
            assertEquals(List.of("imported"), list.lines().toList());
            rbd(conf, "rm", "--no-progress", disk);
            assertEquals("", rbd(conf, "ls", ceph.diskPool()).strip());
        } finally {
            long stoppingNanos = System.nanoTime();
            ceph.close();
            LOG.info("Ceph start took {} ms, stop {} ms",
                    TimeUnit.NANOSECONDS.toMillis(startedNanos - startNanos),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stoppingNanos));
        }
        for (long pid : pids) {
            assertFalse(Processes.isRunning(pid), "pid " + pid + " still running after close");
        }
        assertFalse(Files.exists(dir), dir + " still exists after close");
        assertTrue(processesMentioning(dir.toString()).isEmpty(),
                "processes still using " + dir + ": " + processesMentioning(dir.toString()));
        ceph.close(); // idempotent
    }

    @Test
    void parsesTheEnvFile() {
        Map<String, String> env = EnvFile.parse("""
                CEPH_CONF=/tmp/x/ceph.conf
                # comment
                CEPH_MON_HOST=v2:127.0.0.1:6789
                CEPH_PIDS="1 22  333"
                QUOTED='a b'
                not a line
                """);
        assertEquals("/tmp/x/ceph.conf", env.get("CEPH_CONF"));
        assertEquals("v2:127.0.0.1:6789", env.get("CEPH_MON_HOST"));
        assertEquals("a b", env.get("QUOTED"));
        assertEquals(List.of(1L, 22L, 333L), CephCluster.parsePids(env.get("CEPH_PIDS")));
        assertEquals(4, env.size(), env.toString());
    }

    /** Runs {@code rbd -c CONF ARGS...}, fails the test on a non-zero exit or a timeout, returns stdout. */
    private static String rbd(String conf, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("rbd", "-c", conf));
        command.addAll(List.of(args));
        Path stdout = Files.createTempFile("rbd-", ".out");
        Path stderr = Files.createTempFile("rbd-", ".err");
        try {
            Process process = new ProcessBuilder(command)
                    .redirectOutput(stdout.toFile())
                    .redirectError(stderr.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Paths.get("/dev/null").toFile()))
                    .start();
            if (!process.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + " did not finish within "
                        + COMMAND_TIMEOUT_SECONDS + " s; stderr: " + Files.readString(stderr));
            }
            String out = Files.readString(stdout, StandardCharsets.UTF_8);
            if (process.exitValue() != 0) {
                throw new AssertionError(String.join(" ", command) + " exited " + process.exitValue()
                        + "\nstdout: " + out + "\nstderr: " + Files.readString(stderr));
            }
            return out;
        } finally {
            Files.deleteIfExists(stdout);
            Files.deleteIfExists(stderr);
        }
    }

    private static String rss(List<Long> pids) {
        StringBuilder result = new StringBuilder();
        for (long pid : pids) {
            try {
                String comm = Files.readString(Paths.get("/proc/" + pid + "/comm")).strip();
                String rss = Files.readAllLines(Paths.get("/proc/" + pid + "/status")).stream()
                        .filter(line -> line.startsWith("VmRSS:"))
                        .map(line -> line.substring(6).strip())
                        .findFirst().orElse("?");
                result.append(comm).append('=').append(rss).append(' ');
            } catch (IOException e) {
                result.append(pid).append("=? ");
            }
        }
        return result.toString().strip();
    }

    /** Running processes whose command line mentions the path {@code text} or a path under it. */
    private static List<String> processesMentioning(String text) {
        return ProcessHandle.allProcesses()
                .filter(p -> p.pid() != ProcessHandle.current().pid())
                .filter(p -> Processes.isRunning(p.pid()))
                .map(p -> p.pid() + " " + p.info().commandLine().orElse(""))
                .filter(line -> line.contains(text + "/") || line.contains(text + " ") || line.endsWith(text))
                .toList();
    }
}
