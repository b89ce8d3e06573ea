package io.stratus.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link RepoScripts}, {@link EnvFile}, {@link Dirs} and {@link StopOnce}. */
class HelpersTest {

    private static final String PROPERTY = "stratus.helpers-test.repo";

    @Test
    void repoRootIsFoundFromTheWorkingDirectory() {
        Path root = RepoScripts.root("deploy/scripts/ceph-up.sh");
        assertTrue(Files.isRegularFile(root.resolve("deploy/scripts/glance-up.sh")), root.toString());
        assertEquals(root, CephCluster.findRepoRoot());
        assertEquals(root, GlanceServer.findRepo());
        assertEquals(root.resolve(Libvirt.UP_SCRIPT), Libvirt.findUpScript());
    }

    @Test
    void repoRootFromASystemProperty(@TempDir Path dir) throws IOException {
        Files.createDirectories(dir.resolve("deploy/scripts"));
        Files.writeString(dir.resolve("deploy/scripts/x-up.sh"), "");
        System.setProperty(PROPERTY, dir.resolve("deploy/..").toString());
        try {
            assertEquals(dir, RepoScripts.root("deploy/scripts/x-up.sh", PROPERTY));
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> RepoScripts.root("deploy/scripts/y-up.sh", PROPERTY));
            assertEquals("system property " + PROPERTY + "=" + dir.resolve("deploy/..")
                    + " does not contain deploy/scripts/y-up.sh", e.getMessage());
        } finally {
            System.clearProperty(PROPERTY);
        }
    }

    @Test
    void aMissingScriptIsReported() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> RepoScripts.root("deploy/scripts/no-such-script.sh"));
        assertTrue(e.getMessage().startsWith("cannot find deploy/scripts/no-such-script.sh in "), e.getMessage());
    }

    @Test
    void envFileKeepsAssignmentsOnly(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("env"), "A=1\r\n  B = 2\n#C=3\n1D=4\nE='x y'\nF=\"\"\nA=5\n");
        Map<String, String> env = EnvFile.read(file);
        assertEquals(Map.of("A", "5", "E", "x y", "F", ""), env);
    }

    @Test
    void deleteRecursivelyRemovesTheTreeButNotLinkTargets(@TempDir Path dir) throws IOException {
        Path outside = Files.writeString(dir.resolve("outside"), "keep");
        Path tree = Files.createDirectories(dir.resolve("tree/a/b"));
        Files.writeString(tree.resolve("file"), "x");
        Files.createSymbolicLink(dir.resolve("tree/link"), outside);
        Files.createSymbolicLink(dir.resolve("tree/dirlink"), dir);
        Dirs.deleteRecursively(dir.resolve("tree"));
        assertFalse(Files.exists(dir.resolve("tree")));
        assertEquals("keep", Files.readString(outside));
        Dirs.deleteRecursively(dir.resolve("tree")); // missing: fine
    }

    @Test
    void stopOnceStopsExactlyOnce() {
        AtomicInteger stops = new AtomicInteger();
        StopOnce stopOnce = new StopOnce("helpers-test-hook", stops::incrementAndGet);
        stopOnce.registerHook();
        assertFalse(stopOnce.isStopped());
        assertTrue(stopOnce.close()); // deregisters the hook and stops
        assertTrue(stopOnce.isStopped());
        assertFalse(stopOnce.close());
        assertFalse(stopOnce.stop());
        assertEquals(1, stops.get());

        StopOnce direct = new StopOnce("helpers-test-unregistered", stops::incrementAndGet);
        assertTrue(direct.stop());
        assertFalse(direct.close());
        assertEquals(2, stops.get());
    }
}
