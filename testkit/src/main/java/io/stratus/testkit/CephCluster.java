package io.stratus.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A throwaway single-node Ceph cluster (one monitor, one bluestore OSD on an
 * 8 GiB sparse file, one manager, cephx off, everything on 127.0.0.1) for
 * tests that need real RBD storage.
 *
 * <p>{@link #start()} runs {@code deploy/scripts/ceph-up.sh} in a fresh
 * temporary directory (installing the Ceph Debian packages first if they are
 * missing, which needs root and takes about a minute) and reads the
 * {@code env} file it writes; {@link #close()} runs
 * {@code deploy/scripts/ceph-down.sh}, which kills the daemons and deletes the
 * directory. A JVM shutdown hook does the same if {@code close()} is never
 * called, and the cluster's supervisor process removes the cluster by itself
 * within about a second when this JVM dies without running its hooks.
 *
 * <p>The scripts are found in the repository: {@code $STRATUS_REPO} if set,
 * otherwise the nearest directory at or above the working directory that has
 * {@code deploy/scripts/ceph-up.sh}.
 *
 * <p>Clients talk to the cluster through the {@link #conf() configuration
 * file}, for example {@code rbd -c <conf> create --size 64 <diskPool>/vol}.
 * Two pools exist: {@link #diskPool()} for disks and {@link #imagePool()} for
 * images, both initialised for RBD, with size 1 and 8 placement groups.
 *
 * <pre>{@code
 * try (CephCluster ceph = CephCluster.start()) {
 *     run("rbd", "-c", ceph.conf().toString(), "create", "--size", "64", ceph.diskPool() + "/x");
 * }
 * }</pre>
 *
 * <p>Several clusters can run at once (each on its own ports); each costs
 * about 150 MB of RSS and 5 to 10 s to start. Bluestore needs {@code O_DIRECT},
 * so {@code java.io.tmpdir} must not be a tmpfs. Instances are thread-safe.
 */
public final class CephCluster implements AutoCloseable {

    /** Environment variable naming the repository root (holding {@code deploy/scripts}). */
    public static final String REPO_ENV = "STRATUS_REPO";

    private static final Logger LOG = LoggerFactory.getLogger(CephCluster.class);

    private static final String UP_SCRIPT = "deploy/scripts/ceph-up.sh";
    private static final String DOWN_SCRIPT = "deploy/scripts/ceph-down.sh";
    /** Start-up including a possible apt-get install; the script bounds the cluster part itself. */
    private static final Duration START_TIMEOUT = Duration.ofMinutes(10);
    /** After SIGTERM the script tears down what it started (its own steps are bounded by timeouts). */
    private static final Duration TERM_GRACE = Duration.ofSeconds(60);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    private static final List<String> REQUIRED_KEYS = List.of(
            "CEPH_CONF", "CEPH_FSID", "CEPH_MON_HOST", "CEPH_POOL_DISKS", "CEPH_POOL_IMAGES", "CEPH_PIDS");
    private static final int OUTPUT_LIMIT = 20_000;

    private final Path downScript;
    private final Path dir;
    private final Path conf;
    private final String fsid;
    private final String monHost;
    private final String diskPool;
    private final String imagePool;
    private final List<Long> pids;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread shutdownHook;

    private CephCluster(Path downScript, Path dir, Map<String, String> env) {
        this.downScript = downScript;
        this.dir = dir;
        this.conf = Paths.get(env.get("CEPH_CONF"));
        this.fsid = env.get("CEPH_FSID");
        this.monHost = env.get("CEPH_MON_HOST");
        this.diskPool = env.get("CEPH_POOL_DISKS");
        this.imagePool = env.get("CEPH_POOL_IMAGES");
        this.pids = parsePids(env.get("CEPH_PIDS"));
        this.shutdownHook = new Thread(this::stopAndDelete, "stratus-ceph-shutdown-" + dir.getFileName());
    }

    /**
     * Creates and starts a new cluster in a fresh temporary directory and waits
     * until it is usable (OSD up and in, manager active, health OK or WARN, an
     * RBD image created and removed in each pool).
     *
     * @return the running cluster; close it to stop it and delete its files
     * @throws IllegalStateException if the scripts cannot be found, or the
     *     cluster does not start (the message then carries the script's output,
     *     including the tails of the daemons' logs)
     */
    public static CephCluster start() {
        long startedAt = System.nanoTime();
        Path repo = findRepoRoot();
        Path upScript = repo.resolve(UP_SCRIPT);
        Path downScript = repo.resolve(DOWN_SCRIPT);
        if (!Files.isRegularFile(downScript)) {
            throw new IllegalStateException(downScript + " is missing (repository " + repo + ")");
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("stratus-ceph-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary directory for Ceph", e);
        }
        ProcessResult result;
        try {
            Map<String, String> extraEnv = Map.of("STRATUS_CEPH_OWNER_PID",
                    Long.toString(ProcessHandle.current().pid()));
            result = run(List.of("bash", upScript.toString(), dir.toString()), repo, extraEnv,
                    START_TIMEOUT, TERM_GRACE);
        } catch (RuntimeException | Error e) {
            runDown(downScript, dir);
            throw e;
        }
        if (result.timedOut() || result.exitCode() != 0) {
            // The script tears down after a failure; make sure, whatever happened.
            runDown(downScript, dir);
            throw new IllegalStateException((result.timedOut()
                    ? "ceph-up.sh did not finish within " + START_TIMEOUT.toMinutes() + " min"
                    : "ceph-up.sh failed with exit code " + result.exitCode())
                    + ": bash " + upScript + " " + dir + "\n" + result.output());
        }
        CephCluster cluster;
        try {
            Map<String, String> env = parseEnv(Files.readString(dir.resolve("env"), StandardCharsets.UTF_8));
            for (String key : REQUIRED_KEYS) {
                if (env.get(key) == null || env.get(key).isEmpty()) {
                    throw new IllegalStateException("no " + key + " in " + dir.resolve("env"));
                }
            }
            cluster = new CephCluster(downScript, dir, env);
        } catch (IOException | RuntimeException e) {
            runDown(downScript, dir);
            throw new IllegalStateException("ceph-up.sh succeeded but its env file is unusable: " + e
                    + "\n" + result.output(), e);
        }
        Runtime.getRuntime().addShutdownHook(cluster.shutdownHook);
        LOG.info("Ceph started on {} (fsid {}, pids {}) in {} ms (dir {})", cluster.monHost, cluster.fsid,
                cluster.pids, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAt), dir);
        return cluster;
    }

    /**
     * Ceph configuration file to pass to clients ({@code -c} of {@code ceph} and
     * {@code rbd}, {@code rados_conf_read_file}, qemu's {@code conf=}).
     *
     * @return {@code <dir>/ceph.conf}
     */
    public Path conf() {
        return conf;
    }

    /**
     * The cluster's fsid.
     *
     * @return a UUID string, new for every cluster
     */
    public String fsid() {
        return fsid;
    }

    /**
     * Address of the monitor, as in the configuration's {@code mon host}
     * (messenger v2 only).
     *
     * @return for example {@code v2:127.0.0.1:27811}
     */
    public String monHost() {
        return monHost;
    }

    /**
     * Pool for disks (volumes).
     *
     * @return {@code rbd}
     */
    public String diskPool() {
        return diskPool;
    }

    /**
     * Pool for images.
     *
     * @return {@code images}
     */
    public String imagePool() {
        return imagePool;
    }

    /**
     * Temporary directory holding the configuration, the daemons' data, logs
     * ({@code log/}) and admin sockets ({@code run/}); deleted by
     * {@link #close()}.
     *
     * @return the cluster's directory
     */
    public Path dir() {
        return dir;
    }

    /**
     * Process ids of the cluster: monitor, OSD, manager and their supervisor.
     *
     * @return an unmodifiable list of pids, as reported by {@code ceph-up.sh}
     */
    public List<Long> pids() {
        return pids;
    }

    /**
     * Kills the daemons, waits for them to exit and deletes the directory, by
     * running {@code ceph-down.sh}. Idempotent.
     *
     * @throws IllegalStateException if {@code ceph-down.sh} fails or times out
     *     (the message carries its output)
     */
    @Override
    public void close() {
        if (closed.get()) {
            return;
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // The hook is running or about to; stopAndDelete is idempotent.
        }
        String failure = stopAndDelete();
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
    }

    @Override
    public String toString() {
        return "CephCluster[" + monHost + ", " + dir + (closed.get() ? ", closed]" : "]");
    }

    /** Stops the cluster once; returns a description of the failure, or null. */
    private String stopAndDelete() {
        if (!closed.compareAndSet(false, true)) {
            return null;
        }
        long stoppingAt = System.nanoTime();
        String failure = runDown(downScript, dir);
        LOG.info("Ceph on {} stopped and removed in {} ms", monHost,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stoppingAt));
        return failure;
    }

    // ---------------------------------------------------------------- scripts

    /**
     * Finds the repository root: {@code $STRATUS_REPO} if set, else the
     * nearest directory at or above the working directory that has
     * {@code deploy/scripts/ceph-up.sh}.
     */
    static Path findRepoRoot() {
        String configured = System.getenv(REPO_ENV);
        if (configured != null && !configured.isBlank()) {
            Path repo = Paths.get(configured).toAbsolutePath().normalize();
            if (!Files.isRegularFile(repo.resolve(UP_SCRIPT))) {
                throw new IllegalStateException(REPO_ENV + "=" + configured + " has no " + UP_SCRIPT);
            }
            return repo;
        }
        Path start = Paths.get("").toAbsolutePath().normalize();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve(UP_SCRIPT))) {
                return dir;
            }
        }
        throw new IllegalStateException("cannot find " + UP_SCRIPT + " in " + start
                + " or any parent directory; set " + REPO_ENV + " to the repository root");
    }

    /** Runs ceph-down.sh DIR; returns a description of the failure, or null. Never throws. */
    private static String runDown(Path downScript, Path dir) {
        try {
            ProcessResult result = run(List.of("bash", downScript.toString(), dir.toString()),
                    downScript.getParent(), Map.of(), STOP_TIMEOUT, Duration.ofSeconds(5));
            if (result.timedOut() || result.exitCode() != 0) {
                String failure = "ceph-down.sh " + dir + (result.timedOut()
                        ? " did not finish within " + STOP_TIMEOUT.toSeconds() + " s"
                        : " failed with exit code " + result.exitCode()) + ": " + result.output();
                LOG.warn(failure);
                return failure;
            }
            return null;
        } catch (RuntimeException e) {
            LOG.warn("cannot run ceph-down.sh {}", dir, e);
            return "cannot run ceph-down.sh " + dir + ": " + e;
        }
    }

    /**
     * Parses the {@code KEY=VALUE} lines of {@code ceph-up.sh}'s env file; a
     * value may be enclosed in double or single quotes. Other lines are ignored.
     */
    static Map<String, String> parseEnv(String text) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String raw : text.split("\n")) {
            String line = raw.strip();
            int eq = line.indexOf('=');
            if (line.isEmpty() || line.startsWith("#") || eq <= 0) {
                continue;
            }
            String key = line.substring(0, eq);
            if (!key.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                continue;
            }
            String value = line.substring(eq + 1);
            if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"")
                    || value.startsWith("'") && value.endsWith("'"))) {
                value = value.substring(1, value.length() - 1);
            }
            env.put(key, value);
        }
        return env;
    }

    static List<Long> parsePids(String value) {
        List<Long> result = new ArrayList<>();
        for (String pid : value.strip().split("\\s+")) {
            if (!pid.isEmpty()) {
                result.add(Long.parseLong(pid));
            }
        }
        return Collections.unmodifiableList(result);
    }

    private record ProcessResult(int exitCode, boolean timedOut, String output) {
    }

    /**
     * Runs a command with stdout and stderr captured to a file (never a pipe, so
     * a process it leaves behind cannot block us) and waits at most
     * {@code timeout}. On timeout sends SIGTERM (the scripts clean up on it),
     * waits at most {@code grace}, then kills the whole process tree.
     */
    private static ProcessResult run(List<String> command, Path workDir, Map<String, String> extraEnv,
            Duration timeout, Duration grace) {
        LOG.debug("running {}", command);
        Path output = null;
        try {
            output = Files.createTempFile("stratus-ceph-cmd-", ".out");
            ProcessBuilder builder = new ProcessBuilder(command)
                    .directory(workDir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Paths.get("/dev/null").toFile()));
            builder.environment().putAll(extraEnv);
            Process process = builder.start();
            boolean timedOut = false;
            try {
                if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    timedOut = true;
                    LOG.warn("{} still running after {} s; terminating it", command, timeout.toSeconds());
                    process.destroy();
                    if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                        destroyTree(process);
                    }
                }
            } catch (InterruptedException e) {
                destroyTree(process);
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while running " + String.join(" ", command), e);
            }
            return new ProcessResult(timedOut ? -1 : process.exitValue(), timedOut, readOutput(output));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
        } finally {
            if (output != null) {
                try {
                    Files.deleteIfExists(output);
                } catch (IOException e) {
                    LOG.debug("cannot delete {}", output, e);
                }
            }
        }
    }

    private static void destroyTree(Process process) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String readOutput(Path output) throws IOException {
        // Lenient decoding: a daemon log tail may hold anything.
        String text = new String(Files.readAllBytes(output), StandardCharsets.UTF_8);
        if (text.length() > OUTPUT_LIMIT) {
            text = "[... " + (text.length() - OUTPUT_LIMIT) + " characters cut ...]\n"
                    + text.substring(text.length() - OUTPUT_LIMIT);
        }
        return text;
    }
}
