package io.stratus.testkit;

import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * Runs one of the guest build scripts of {@code deploy/scripts} ({@code qga-relay-guest.sh},
 * {@code linux-guest.sh}) on its cache directory below {@link Libvirt#scratchParent()} and
 * reads the {@code KEY=PATH} lines it prints. Each path must name a non-empty file that
 * qemu ({@value Libvirt#QEMU_USER}) can read.
 */
final class GuestBuild {
    /** Bound for a script: a first run downloads up to ~35 MB and may wait for another run's lock. */
    private static final Duration SCRIPT_TIMEOUT = Duration.ofMinutes(20);
    private static final Duration TERMINATE_GRACE = Duration.ofSeconds(10);
    private static final int OUTPUT_LIMIT = 20_000;

    private GuestBuild() {
    }

    /**
     * A build done at most once per JVM: the first {@link #get()} runs it, later calls return
     * its result or throw its remembered failure again.
     */
    static final class Once<T> {
        private final java.util.function.Supplier<T> build;
        private T value;
        private IllegalStateException failure;

        Once(java.util.function.Supplier<T> build) {
            this.build = build;
        }

        synchronized T get() {
            if (value != null) {
                return value;
            }
            if (failure != null) {
                throw new IllegalStateException(failure.getMessage(), failure);
            }
            try {
                value = build.get();
                return value;
            } catch (IllegalStateException e) {
                failure = e;
                throw e;
            }
        }
    }

    /**
     * Runs {@code script} (relative to the repository root) with the cache directory
     * {@code cacheName} and returns the files it printed for {@code keys}, in that order.
     *
     * @throws IllegalStateException if the script is missing, fails, times out, or prints
     *     no usable path for a key (the message carries its output)
     */
    static Map<String, Path> run(String script, String cacheName, Logger log, List<String> keys) {
        Path repo = RepoScripts.root(script);
        Path cache = Libvirt.scratchParent().resolve(cacheName);
        long startedAt = System.nanoTime();
        Processes.Captured result = Processes.command(List.of("bash", repo.resolve(script).toString(), cache.toString()))
                .log(log)
                .tempFiles("stratus-guest-build-")
                .directory(repo)
                .timeout(SCRIPT_TIMEOUT)
                .reader(Processes.UTF8.keepingTail(OUTPUT_LIMIT, "chars").orPlaceholder())
                .stopWith(Processes.terminateThenKill(TERMINATE_GRACE, TERMINATE_GRACE))
                .failOnTimeout(GuestBuild::describe)
                .interruptDetail(GuestBuild::describe)
                .run();
        long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAt);
        if (result.exitCode() != 0) {
            throw new IllegalStateException(script + " " + cache + " failed with exit code " + result.exitCode()
                    + " after " + elapsedMs + " ms" + describe(result));
        }
        Map<String, Path> paths = new LinkedHashMap<>();
        for (String key : keys) {
            paths.put(key, printedPath(script, result, key));
        }
        log.info("{} ready after {} ms: {}{}", script, elapsedMs, paths,
                result.stderr().isBlank() ? "" : ":\n" + result.stderr().strip());
        return paths;
    }

    private static Path printedPath(String script, Processes.Captured result, String key) {
        String value = null;
        for (String line : result.stdout().split("\n")) {
            if (line.startsWith(key + "=")) {
                value = line.substring(key.length() + 1).strip();
            }
        }
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException(script + " printed no " + key + "=..." + describe(result));
        }
        Path path = Path.of(value);
        try {
            if (!java.nio.file.Files.isRegularFile(path) || java.nio.file.Files.size(path) == 0
                    || !java.nio.file.Files.getPosixFilePermissions(path).contains(PosixFilePermission.OTHERS_READ)) {
                throw new IllegalStateException(script + " printed " + key + "=" + value
                        + ", which is not a non-empty file readable by others (qemu runs as "
                        + Libvirt.QEMU_USER + ")" + describe(result));
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot inspect " + path + " (" + key + ")" + describe(result), e);
        }
        return path;
    }

    private static String describe(Processes.Captured result) {
        return "\n--- stdout ---\n" + result.stdout().strip() + "\n--- stderr ---\n" + result.stderr().strip();
    }
}
