package io.stratus.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shared process plumbing, with small shell commands. */
class ProcessesTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @Test
    void capturesStreamsSeparatelyOrMerged(@TempDir Path dir) {
        List<String> command = List.of("bash", "-c", "echo out; echo err >&2; echo \"$X\"; pwd; exit 3");
        Processes.Captured separate = Processes.command(command).tempFiles("processes-test-")
                .directory(dir).environment(Map.of("X", "from-env")).timeout(TIMEOUT).run();
        assertEquals(3, separate.exitCode());
        assertFalse(separate.timedOut());
        assertEquals("out\nfrom-env\n" + dir + "\n", separate.stdout());
        assertEquals("err\n", separate.stderr());

        Processes.Captured merged = Processes.command(List.of("bash", "-c", "echo out; echo err >&2"))
                .tempFiles("processes-test-").mergeOutput().timeout(TIMEOUT).run();
        assertEquals(0, merged.exitCode());
        assertEquals("out\nerr\n", merged.stdout());
        assertEquals("", merged.stderr());
    }

    @Test
    void stdinIsDevNull() {
        Processes.Captured result = Processes.command(List.of("cat")).tempFiles("processes-test-")
                .timeout(TIMEOUT).run();
        assertEquals(0, result.exitCode());
        assertEquals("", result.stdout());
    }

    @Test
    void timeoutReturnsOrThrowsWithTheOutputSoFar() {
        List<String> command = List.of("bash", "-c", "echo started; exec sleep 30");
        AtomicReference<Process> stopped = new AtomicReference<>();
        Processes.Captured result = Processes.command(command).tempFiles("processes-test-")
                .timeout(Duration.ofMillis(300))
                .onTimeout(process -> {
                    stopped.set(process);
                    Processes.killTree(process);
                })
                .run();
        assertTrue(result.timedOut());
        assertEquals(-1, result.exitCode());
        assertEquals("started\n", result.stdout());
        assertFalse(stopped.get().isAlive());

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Processes.command(command).tempFiles("processes-test-").timeout(Duration.ofMillis(300))
                        .stopWith(Processes.terminateThenKill(Duration.ofSeconds(5), Duration.ofSeconds(5)))
                        .failOnTimeout(soFar -> "\n" + soFar.stdout().strip())
                        .run());
        assertEquals("timed out after 0 s: bash -c echo started; exec sleep 30\nstarted", e.getMessage());
    }

    @Test
    void interruptStopsTheProcessAndKeepsTheFlag() {
        AtomicReference<Process> stopped = new AtomicReference<>();
        Thread.currentThread().interrupt();
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Processes.command(List.of("sleep", "30")).tempFiles("processes-test-").timeout(TIMEOUT)
                            .onInterrupt(process -> {
                                stopped.set(process);
                                Processes.KILL.stop(process);
                            })
                            .interruptDetail(soFar -> " (" + soFar.exitCode() + ")")
                            .run());
            assertEquals("interrupted while running sleep 30 (-1)", e.getMessage());
            assertTrue(Thread.currentThread().isInterrupted());
        } finally {
            Thread.interrupted();
        }
        assertTrue(stopped.get() != null);
    }

    @Test
    void aMissingProgramIsAnUncheckedIOException() {
        java.io.UncheckedIOException e = assertThrows(java.io.UncheckedIOException.class,
                () -> Processes.command(List.of("/nonexistent/stratus-tool", "x")).tempFiles("processes-test-")
                        .timeout(TIMEOUT).run());
        assertEquals("cannot run /nonexistent/stratus-tool x", e.getMessage());
    }

    @Test
    void readersKeepTheTailOrAnswerAPlaceholder(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("out"), "0123456789");
        assertEquals("[... 6 chars cut ...]\n6789", Processes.UTF8.keepingTail(4, "chars").read(file));
        assertEquals("0123456789", Processes.LENIENT_UTF8.keepingTail(10, "characters").read(file));
        Path missing = dir.resolve("missing");
        assertTrue(Processes.UTF8.orPlaceholder().read(missing).startsWith("(cannot read " + missing + ": "));
        assertThrows(IOException.class, () -> Processes.UTF8.read(missing));

        Path invalid = Files.write(dir.resolve("invalid"), new byte[] {'a', (byte) 0xff, 'b'});
        assertEquals("a\ufffdb", Processes.LENIENT_UTF8.read(invalid));
        assertThrows(IOException.class, () -> Processes.UTF8.read(invalid));
    }

    @Test
    void procChecks() {
        assertTrue(Processes.isRunning(ProcessHandle.current().pid()));
        assertFalse(Processes.isRunning(Long.MAX_VALUE));
        assertEquals("root".equals(System.getProperty("user.name")), Processes.runningAsRoot());
    }
}
