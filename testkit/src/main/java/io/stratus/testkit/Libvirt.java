package io.stratus.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fixture for tests that need a real libvirtd with the qemu driver (guests run
 * under TCG, so no KVM is needed).
 *
 * <ul>
 *   <li>{@link #ensureRunning()} runs {@code deploy/scripts/libvirt-up.sh} once
 *       per JVM (it installs the Debian packages if missing and starts a system
 *       libvirtd if none answers) and returns the connection URI,
 *       {@value #DEFAULT_URI}.</li>
 *   <li>{@link #scratchDir(String)} makes a directory for disk images, sockets
 *       and domain XML that qemu, running as the {@value #QEMU_USER} user, can
 *       read and write.</li>
 *   <li>{@link #destroyDomainsWithPrefix(String)} removes the domains a test
 *       created; name test domains {@value #TEST_DOMAIN_PREFIX}{@code ...} so
 *       {@code deploy/scripts/libvirt-down.sh} removes leftovers too.</li>
 *   <li>{@link #virsh(String...)} and {@link #run(Duration, String...)} run
 *       {@code virsh} and other tools with a bounded wait.</li>
 * </ul>
 *
 * <pre>{@code
 * String uri = Libvirt.ensureRunning();
 * Path dir = Libvirt.scratchDir("my-test-");
 * String name = "stratus-test-" + UUID.randomUUID();
 * try {
 *     ... virsh define / start, or libvirt-java on uri ...
 * } finally {
 *     Libvirt.destroyDomainsWithPrefix(name);
 * }
 * }</pre>
 *
 * <p>Every child process is waited for with a timeout; its output goes to a
 * temporary file, never a pipe (libvirt-up.sh may leave daemons behind that
 * inherit descriptors). Failures throw {@link IllegalStateException} with the
 * command's output in the message. The methods are thread-safe.
 */
public final class Libvirt {

    /** The URI libvirt-up.sh makes available: the system libvirtd's qemu driver. */
    public static final String DEFAULT_URI = "qemu:///system";

    /** Environment variable naming the Stratus repository root (holding {@value #UP_SCRIPT}). */
    public static final String REPO_ENV = RepoScripts.REPO_ENV;

    /**
     * Environment variable naming the parent directory of {@link #scratchDir(String)}
     * directories (default {@value #DEFAULT_SCRATCH_PARENT}); libvirt-up.sh honours it too.
     */
    public static final String SCRATCH_ENV = "STRATUS_LIBVIRT_SCRATCH";

    /** Prefix of the domain names tests should use; libvirt-down.sh removes such domains. */
    public static final String TEST_DOMAIN_PREFIX = "stratus-test-";

    /** The OS user (and group) qemu processes run as, as configured by libvirt-up.sh. */
    public static final String QEMU_USER = "libvirt-qemu";

    /** Path of the start-up script relative to the repository root. */
    public static final String UP_SCRIPT = "deploy/scripts/libvirt-up.sh";

    static final String DEFAULT_SCRATCH_PARENT = "/var/lib/stratus-test";

    private static final Logger LOG = LoggerFactory.getLogger(Libvirt.class);

    /**
     * Bound for libvirt-up.sh: a first run may install ~100 MB of packages and
     * wait up to 10 min for another installer's dpkg lock.
     */
    private static final Duration SCRIPT_TIMEOUT = Duration.ofMinutes(20);
    /** Bound for one virsh call (virsh itself has no overall timeout). */
    static final Duration VIRSH_TIMEOUT = Duration.ofSeconds(60);
    /** Time a timed-out process gets between SIGTERM and SIGKILL. */
    private static final Duration KILL_GRACE = Duration.ofSeconds(10);

    private static final Object LOCK = new Object();
    private static volatile String uri;
    private static IllegalStateException startFailure;
    private static final Set<Path> SCRATCH_DIRS = ConcurrentHashMap.newKeySet();
    private static volatile boolean cleanupHookAdded;

    private Libvirt() {
    }

    /**
     * Makes sure a system libvirtd with the qemu driver answers, by running
     * {@value #UP_SCRIPT} the first time this is called in the JVM; later calls
     * return the remembered result at once (a failure is remembered too, so a
     * broken machine fails every test quickly with the same message).
     *
     * <p>The script is found under {@code $STRATUS_REPO} when that is set,
     * else in the first of the current working directory and its ancestors
     * that contains it. It needs root unless a libvirtd already answers.
     *
     * @return the libvirt connection URI to use, {@value #DEFAULT_URI}
     * @throws IllegalStateException if the script cannot be found, fails or
     *     times out (the message carries its output)
     */
    public static String ensureRunning() {
        synchronized (LOCK) {
            if (uri != null) {
                return uri;
            }
            if (startFailure != null) {
                throw new IllegalStateException(startFailure.getMessage(), startFailure);
            }
            try {
                uri = runUpScript();
                return uri;
            } catch (IllegalStateException e) {
                startFailure = e;
                throw e;
            }
        }
    }

    private static String runUpScript() {
        Path script = findUpScript();
        long startedAt = System.nanoTime();
        Result result = run(SCRIPT_TIMEOUT, "bash", script.toString());
        long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAt);
        if (result.exitCode() != 0) {
            throw new IllegalStateException(UP_SCRIPT + " failed with exit code " + result.exitCode() + " after "
                    + elapsedMs + " ms\n" + result.describeOutput());
        }
        String found = null;
        for (String line : result.stdout().split("\n")) {
            if (line.startsWith("LIBVIRT_URI=")) {
                found = line.substring("LIBVIRT_URI=".length()).strip();
            }
        }
        if (found == null || found.isEmpty()) {
            throw new IllegalStateException(UP_SCRIPT + " printed no LIBVIRT_URI=...\n" + result.describeOutput());
        }
        LOG.info("libvirt ready at {} after {} ms ({}){}", found, elapsedMs, script,
                result.stderr().isBlank() ? "" : ":\n" + result.stderr().strip());
        return found;
    }

    /**
     * Locates {@value #UP_SCRIPT}: under {@code $STRATUS_REPO} if set, else by
     * walking up from the current working directory.
     */
    static Path findUpScript() {
        return RepoScripts.root(UP_SCRIPT).resolve(UP_SCRIPT);
    }

    /**
     * Creates a fresh directory, named {@code prefix} plus a random suffix,
     * that the {@value #QEMU_USER} user can read, write and search: owned by
     * {@value #QEMU_USER}:{@value #QEMU_USER} with mode {@code 0770} when this
     * JVM runs as root (root keeps full access), mode {@code 0777} otherwise.
     * Files created in it by root (e.g. with {@code qemu-img create}) are
     * readable by qemu; libvirt chowns each disk to {@value #QEMU_USER} while
     * the domain runs and back to root afterwards.
     *
     * <p>The parent is {@code $STRATUS_LIBVIRT_SCRATCH}, else
     * {@value #DEFAULT_SCRATCH_PARENT} (created {@code 0755} if missing), else,
     * if that cannot be created, {@code java.io.tmpdir}. Every directory above
     * the new one must be searchable by others, which is checked. There is no
     * AppArmor/SELinux confinement on the Stratus CI machines; where it
     * exists, libvirt's per-domain profile allows the disk paths it is given.
     *
     * <p>The directory and its contents are deleted when the JVM exits
     * (best effort); delete it earlier yourself if you like.
     *
     * @param prefix start of the directory name, for example {@code "snapshot-test-"}
     * @return the new directory
     * @throws IllegalStateException if the directory cannot be created or made accessible
     */
    public static Path scratchDir(String prefix) {
        Objects.requireNonNull(prefix, "prefix");
        Path parent = scratchParent();
        Path dir;
        try {
            dir = Files.createTempDirectory(parent, prefix);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a scratch directory in " + parent, e);
        }
        try {
            if (Processes.runningAsRoot()) {
                Dirs.Owner qemu;
                try {
                    qemu = Dirs.Owner.named(QEMU_USER);
                } catch (IOException e) {
                    throw new IllegalStateException("the '" + QEMU_USER + "' user or group does not exist;"
                            + " call Libvirt.ensureRunning() (or run " + UP_SCRIPT + ") first", e);
                }
                Dirs.handOver(dir, qemu, "rwxrwx---");
            } else {
                Files.getFileAttributeView(dir, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                        .setPermissions(PosixFilePermissions.fromString("rwxrwxrwx"));
            }
        } catch (IOException | RuntimeException e) {
            Dirs.deleteRecursively(dir);
            if (e instanceof IOException io) {
                throw new UncheckedIOException("cannot hand " + dir + " over to " + QEMU_USER, io);
            }
            throw (RuntimeException) e;
        }
        registerForCleanup(dir);
        LOG.debug("scratch directory {} for {}", dir, QEMU_USER);
        return dir;
    }

    /**
     * The parent of {@link #scratchDir(String)} directories (see there),
     * created if missing and checked to be searchable by {@value #QEMU_USER}
     * all the way up. Other fixtures keep files qemu must read below it (for
     * example {@link RelayGuest}'s cached kernel).
     *
     * @return the directory
     * @throws IllegalStateException if a directory on the way is not searchable by others
     * @throws UncheckedIOException if {@code $STRATUS_LIBVIRT_SCRATCH} is set and cannot be created
     */
    static Path scratchParent() {
        String configured = System.getenv(SCRATCH_ENV);
        Path parent;
        if (configured != null && !configured.isBlank()) {
            parent = Paths.get(configured).toAbsolutePath();
            createParent(parent);
        } else {
            parent = Paths.get(DEFAULT_SCRATCH_PARENT);
            try {
                createParent(parent);
            } catch (UncheckedIOException e) {
                Path tmp = Paths.get(System.getProperty("java.io.tmpdir")).toAbsolutePath();
                LOG.debug("cannot use {} ({}); using {}", parent, e.getCause(), tmp);
                parent = tmp;
            }
        }
        // qemu must be able to search every directory on the way.
        for (Path p = parent; p != null; p = p.getParent()) {
            if (!othersCanSearch(p)) {
                throw new IllegalStateException(p + " is not searchable by other users, so qemu (running as "
                        + QEMU_USER + ") cannot reach files below it; chmod o+x it or set " + SCRATCH_ENV);
            }
        }
        return parent;
    }

    private static void createParent(Path parent) {
        try {
            if (!Files.isDirectory(parent)) {
                Files.createDirectories(parent);
                Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + parent, e);
        }
    }

    private static boolean othersCanSearch(Path dir) {
        try {
            return Files.getPosixFilePermissions(dir).contains(PosixFilePermission.OTHERS_EXECUTE);
        } catch (IOException | UnsupportedOperationException e) {
            return true; // cannot tell; let qemu report it
        }
    }

    /**
     * Destroys (if running) and undefines (with managed-save image, snapshot
     * and checkpoint metadata and NVRAM; disk files are left alone) every
     * domain on the {@link #ensureRunning() libvirt URI} whose name starts with
     * {@code prefix}, persistent or transient. Does nothing if there is none.
     *
     * @param prefix non-blank name prefix, for example {@value #TEST_DOMAIN_PREFIX}
     *     or a single test's full domain name
     * @throws IllegalArgumentException if {@code prefix} is blank (which would
     *     match every domain)
     * @throws IllegalStateException if listing fails or a matching domain still
     *     exists afterwards
     */
    public static void destroyDomainsWithPrefix(String prefix) {
        if (prefix == null || prefix.isBlank()) {
            throw new IllegalArgumentException("a non-blank domain name prefix is required");
        }
        List<String> failures = new ArrayList<>();
        for (String name : virsh("list", "--all", "--name").lines().map(String::strip).toList()) {
            if (name.isEmpty() || !name.startsWith(prefix)) {
                continue;
            }
            long startedAt = System.nanoTime();
            Result destroy = virshResult("destroy", name);
            Result undefine = virshResult("undefine", "--managed-save", "--snapshots-metadata",
                    "--checkpoints-metadata", "--nvram", name);
            if (undefine.exitCode() != 0) {
                undefine = virshResult("undefine", name);
            }
            if (virshResult("domstate", name).exitCode() == 0) {
                failures.add(name + ": destroy: " + destroy.describeOutput() + "; undefine: "
                        + undefine.describeOutput());
            } else {
                LOG.info("removed domain {} in {} ms", name,
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAt));
            }
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("cannot remove domains starting with '" + prefix + "':\n"
                    + String.join("\n", failures));
        }
    }

    /**
     * Runs {@code virsh -c <uri> ARGS} (the URI from {@link #ensureRunning()},
     * or {@value #DEFAULT_URI} before it was called) and returns its standard
     * output, stripped.
     *
     * @param args virsh arguments, for example {@code "domstate", "vm1"}
     * @return virsh's standard output without leading/trailing white space
     * @throws IllegalStateException if virsh exits non-zero or takes longer than 60 s
     */
    public static String virsh(String... args) {
        Result result = virshResult(args);
        if (result.exitCode() != 0) {
            throw new IllegalStateException(result.describe());
        }
        return result.stdout().strip();
    }

    /**
     * Like {@link #virsh(String...)} but returns the result whatever the exit code.
     *
     * @param args virsh arguments
     * @return exit code and output
     * @throws IllegalStateException if virsh takes longer than 60 s
     */
    public static Result virshResult(String... args) {
        String known = uri;
        String connect = known != null ? known : DEFAULT_URI;
        List<String> command = new ArrayList<>(List.of("virsh", "-q", "-c", connect));
        command.addAll(List.of(args));
        return run(VIRSH_TIMEOUT, command.toArray(String[]::new));
    }

    /**
     * Runs a command (stdin from {@code /dev/null}) and waits at most
     * {@code timeout}; on timeout it gets SIGTERM, 10 s later SIGKILL.
     *
     * @param timeout upper bound for the command
     * @param command program and arguments
     * @return exit code and the captured standard output and error
     * @throws IllegalStateException on timeout or interruption (with the output so far)
     * @throws UncheckedIOException if the command cannot be started
     */
    public static Result run(Duration timeout, String... command) {
        // SIGTERM only the process itself (a script's trap then cleans up; its daemons and a
        // running apt/dpkg must not be killed half-way), SIGKILL after a grace period.
        Processes.Captured captured = Processes.command(List.of(command))
                .log(LOG)
                .tempFiles("stratus-libvirt-")
                .timeout(timeout)
                .reader(Processes.UTF8.orPlaceholder())
                .stopWith(Processes.terminateThenKill(KILL_GRACE, KILL_GRACE))
                .failOnTimeout(soFar -> "\n" + Result.of(soFar).describeOutput())
                .interruptDetail(soFar -> "\n" + Result.of(soFar).describeOutput())
                .run();
        return Result.of(captured);
    }

    /**
     * Outcome of a finished command.
     *
     * @param command the program and its arguments
     * @param exitCode the exit code ({@code -1} if it did not finish)
     * @param stdout everything written to standard output
     * @param stderr everything written to standard error
     */
    public record Result(List<String> command, int exitCode, String stdout, String stderr) {

        private static Result of(Processes.Captured captured) {
            return new Result(captured.command(), captured.exitCode(), captured.stdout(), captured.stderr());
        }

        /**
         * The command, its exit code and its output, for error messages.
         *
         * @return a multi-line description
         */
        public String describe() {
            return String.join(" ", command) + " exited " + exitCode + "\n" + describeOutput();
        }

        String describeOutput() {
            StringBuilder s = new StringBuilder();
            if (!stdout.isBlank()) {
                s.append("--- stdout ---\n").append(stdout.strip()).append('\n');
            }
            if (!stderr.isBlank()) {
                s.append("--- stderr ---\n").append(stderr.strip()).append('\n');
            }
            return s.isEmpty() ? "(no output)" : s.toString().strip();
        }
    }

    // ---------------------------------------------------------------- helpers

    private static void registerForCleanup(Path dir) {
        SCRATCH_DIRS.add(dir);
        if (!cleanupHookAdded) {
            synchronized (SCRATCH_DIRS) {
                if (!cleanupHookAdded) {
                    Runtime.getRuntime().addShutdownHook(new Thread(
                            () -> SCRATCH_DIRS.forEach(Dirs::deleteRecursively), "stratus-libvirt-scratch-cleanup"));
                    cleanupHookAdded = true;
                }
            }
        }
    }
}
