package io.stratus.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
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
    public static final String REPO_ENV = RepoScripts.REPO_ENV;

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
    private final StopOnce stopOnce;
    /** What went wrong when {@link #stopOnce} stopped the cluster, or null. */
    private volatile String stopFailure;

    private CephCluster(Path downScript, Path dir, Map<String, String> env) {
        this.downScript = downScript;
        this.dir = dir;
        this.conf = Paths.get(env.get("CEPH_CONF"));
        this.fsid = env.get("CEPH_FSID");
        this.monHost = env.get("CEPH_MON_HOST");
        this.diskPool = env.get("CEPH_POOL_DISKS");
        this.imagePool = env.get("CEPH_POOL_IMAGES");
        this.pids = parsePids(env.get("CEPH_PIDS"));
        this.stopOnce = new StopOnce("stratus-ceph-shutdown-" + dir.getFileName(), this::stopAndDelete);
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
        Processes.Captured result;
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
                    + ": bash " + upScript + " " + dir + "\n" + result.stdout());
        }
        CephCluster cluster;
        try {
            Map<String, String> env = EnvFile.read(dir.resolve("env"));
            for (String key : REQUIRED_KEYS) {
                if (env.get(key) == null || env.get(key).isEmpty()) {
                    throw new IllegalStateException("no " + key + " in " + dir.resolve("env"));
                }
            }
            cluster = new CephCluster(downScript, dir, env);
        } catch (IOException | RuntimeException e) {
            runDown(downScript, dir);
            throw new IllegalStateException("ceph-up.sh succeeded but its env file is unusable: " + e
                    + "\n" + result.stdout(), e);
        }
        cluster.stopOnce.registerHook();
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
     * Writes a client-only configuration for this cluster into {@code dir} (fsid, monitor,
     * no authentication) that any user may read — for clients that do not run as root,
     * such as qemu started by libvirt, which cannot read {@link #conf()} in the cluster's
     * private directory.
     *
     * @param dir a directory the client's user can traverse
     * @return {@code <dir>/ceph-client.conf}, mode 0644
     */
    public Path writeClientConf(Path dir) {
        Path file = dir.resolve("ceph-client.conf");
        String text = "[global]\n"
                + "fsid = " + fsid + "\n"
                + "mon host = " + monHost + "\n"
                + "auth cluster required = none\n"
                + "auth service required = none\n"
                + "auth client required = none\n"
                + "auth supported = none\n"
                + "client mount timeout = 20\n"
                + "ms bind ipv6 = false\n"
                + "log to stderr = false\n"
                + "admin socket =\n"
                + "log file = /dev/null\n";
        try {
            Files.writeString(file, text);
            Files.setPosixFilePermissions(file,
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        return file;
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
        if (stopOnce.close() && stopFailure != null) {
            throw new IllegalStateException(stopFailure);
        }
    }

    @Override
    public String toString() {
        return "CephCluster[" + monHost + ", " + dir + (stopOnce.isStopped() ? ", closed]" : "]");
    }

    /** Run once, by {@link #stopOnce}; records a description of a failure in {@link #stopFailure}. */
    private void stopAndDelete() {
        long stoppingAt = System.nanoTime();
        stopFailure = runDown(downScript, dir);
        LOG.info("Ceph on {} stopped and removed in {} ms", monHost,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stoppingAt));
    }

    // ---------------------------------------------------------------- scripts

    /**
     * Finds the repository root: {@code $STRATUS_REPO} if set, else the
     * nearest directory at or above the working directory that has
     * {@code deploy/scripts/ceph-up.sh}.
     */
    static Path findRepoRoot() {
        return RepoScripts.root(UP_SCRIPT);
    }

    /** Runs ceph-down.sh DIR; returns a description of the failure, or null. Never throws. */
    private static String runDown(Path downScript, Path dir) {
        try {
            Processes.Captured result = run(List.of("bash", downScript.toString(), dir.toString()),
                    downScript.getParent(), Map.of(), STOP_TIMEOUT, Duration.ofSeconds(5));
            if (result.timedOut() || result.exitCode() != 0) {
                String failure = "ceph-down.sh " + dir + (result.timedOut()
                        ? " did not finish within " + STOP_TIMEOUT.toSeconds() + " s"
                        : " failed with exit code " + result.exitCode()) + ": " + result.stdout();
                LOG.warn(failure);
                return failure;
            }
            return null;
        } catch (RuntimeException e) {
            LOG.warn("cannot run ceph-down.sh {}", dir, e);
            return "cannot run ceph-down.sh " + dir + ": " + e;
        }
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

    /**
     * Runs a command with stdout and stderr captured to a file (never a pipe, so
     * a process it leaves behind cannot block us) and waits at most
     * {@code timeout}. On timeout sends SIGTERM (the scripts clean up on it),
     * waits at most {@code grace}, then kills the whole process tree; the result
     * then says {@link Processes.Captured#timedOut()}.
     */
    private static Processes.Captured run(List<String> command, Path workDir, Map<String, String> extraEnv,
            Duration timeout, Duration grace) {
        return Processes.command(command)
                .log(LOG)
                .tempFiles("stratus-ceph-cmd-")
                .mergeOutput()
                .directory(workDir)
                .environment(extraEnv)
                .timeout(timeout)
                .reader(Processes.LENIENT_UTF8.keepingTail(OUTPUT_LIMIT, "characters"))
                .onTimeout(process -> {
                    LOG.warn("{} still running after {} s; terminating it", command, timeout.toSeconds());
                    process.destroy();
                    if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                        Processes.killTree(process);
                    }
                })
                .onInterrupt(Processes::killTree)
                .run();
    }
}
