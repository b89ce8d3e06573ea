package io.stratus.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A throwaway OpenStack Glance image API (Debian's Zed packages) on 127.0.0.1,
 * for tests that need a real image service.
 *
 * <p>{@link #start()} runs {@code deploy/scripts/glance-up.sh} in a fresh
 * temporary directory: it installs the {@code glance-api} and
 * {@code python3-glance} Debian packages if they are missing (root only, a few
 * minutes the first time), writes a private configuration (SQLite database and
 * file store inside the directory, a free port, one process), runs
 * {@code glance-manage db_sync} and starts {@code glance-api}, returning once
 * {@code GET /healthcheck} answers 200 (about 5–7 s). The API is
 * <em>unauthenticated</em>: no Keystone, no token needed, every request is an
 * admin request and images have no owner.
 *
 * <p>{@link #close()} runs {@code deploy/scripts/glance-down.sh}, which stops
 * the server and deletes the directory; a JVM shutdown hook does the same if
 * {@code close()} is never called (it cannot help if the JVM is killed with
 * {@code SIGKILL}: then run {@code glance-down.sh DIR} by hand).
 *
 * <p>The scripts are found in the repository checkout: in
 * {@code $STRATUS_REPO} (or the system property {@value #REPO_PROPERTY}) when
 * set, else in the nearest directory at or above the working directory that
 * contains {@value #UP_SCRIPT}. Every wait is bounded; failures throw
 * {@link IllegalStateException} carrying the script's output (which includes
 * the tail of the server log).
 *
 * <pre>{@code
 * try (GlanceServer glance = GlanceServer.start()) {
 *     URI images = glance.url().resolve("/v2/images");
 *     ...
 * }
 * }</pre>
 *
 * <p>Several instances can run at once. Instances are thread-safe.
 */
public final class GlanceServer implements AutoCloseable {

    /** Environment variable naming the repository root that holds {@value #UP_SCRIPT}. */
    public static final String REPO_ENV = RepoScripts.REPO_ENV;

    /** System property naming the repository root; overrides {@value #REPO_ENV}. */
    public static final String REPO_PROPERTY = "stratus.repo";

    /** Start script, relative to the repository root. */
    public static final String UP_SCRIPT = "deploy/scripts/glance-up.sh";

    /** Stop script, relative to the repository root. */
    public static final String DOWN_SCRIPT = "deploy/scripts/glance-down.sh";

    private static final Logger LOG = LoggerFactory.getLogger(GlanceServer.class);

    private static final Path INSTALLED_MARKER = Paths.get("/usr/bin/glance-api");
    /** Start bound when the packages are installed: db_sync + start take ~5–7 s. */
    private static final Duration START_TIMEOUT = Duration.ofMinutes(3);
    /** Start bound when glance-up.sh first has to install ~210 Debian packages (~2.5 min). */
    private static final Duration INSTALL_AND_START_TIMEOUT = Duration.ofMinutes(20);
    /** glance-down.sh waits at most 15 s (TERM) + 10 s (KILL) + 3 s (reaping). */
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    /** After SIGTERM to a script that timed out, wait this long before SIGKILL. */
    private static final Duration TERMINATE_GRACE = Duration.ofSeconds(15);
    /** After SIGKILL to such a script, wait at most this long for it. */
    private static final Duration KILL_WAIT = Duration.ofSeconds(5);
    private static final int OUTPUT_LIMIT = 20_000;

    private final Path repo;
    private final Path dir;
    private final URI url;
    private final long pid;
    private final StopOnce stopOnce;

    private GlanceServer(Path repo, Path dir, URI url, long pid) {
        this.repo = repo;
        this.dir = dir;
        this.url = url;
        this.pid = pid;
        this.stopOnce = new StopOnce("stratus-glance-shutdown-" + url.getPort(), this::stopAndDelete);
    }

    /**
     * Starts a new Glance in a fresh temporary directory.
     *
     * @return the running server; close it to stop it and delete its files
     * @throws IllegalStateException if the scripts cannot be found, or
     *     glance-up.sh fails or times out (the message then carries its output)
     */
    public static GlanceServer start() {
        long startedAt = System.nanoTime();
        Path repo = findRepo();
        Path dir;
        try {
            dir = Files.createTempDirectory("stratus-glance-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary directory for Glance", e);
        }
        Duration timeout = Files.isExecutable(INSTALLED_MARKER) ? START_TIMEOUT : INSTALL_AND_START_TIMEOUT;
        GlanceServer server;
        try {
            Processes.Captured result = runScript(repo, UP_SCRIPT, dir, timeout);
            if (result.exitCode() != 0) {
                throw new IllegalStateException(UP_SCRIPT + " " + dir + " exited with " + result.exitCode()
                        + describe(result));
            }
            Map<String, String> env = readEnv(dir.resolve("env"), result);
            server = new GlanceServer(repo, dir, parseUrl(env, result), parsePid(env, result));
        } catch (RuntimeException | Error e) {
            cleanUpAfterFailedStart(repo, dir, e);
            throw e;
        }
        try {
            server.stopOnce.registerHook();
        } catch (IllegalStateException shuttingDown) {
            server.stopOnce.stop();
            throw new IllegalStateException("the JVM is shutting down; Glance stopped again", shuttingDown);
        }
        LOG.info("Glance started at {} (pid {}) in {} ms (files in {})", server.url, server.pid,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAt), dir);
        return server;
    }

    /**
     * Base URL of the image API, for example {@code http://127.0.0.1:41234};
     * the v2 API is under {@code /v2}.
     *
     * @return the base URL, without a trailing slash
     */
    public URI url() {
        return url;
    }

    /**
     * Process id of {@code glance-api} (also its process group id).
     *
     * @return the pid
     */
    public long pid() {
        return pid;
    }

    /**
     * Temporary directory holding the configuration, database, images and the
     * server log ({@code glance-api.log}); deleted by {@link #close()}.
     *
     * @return the server's directory
     */
    public Path dir() {
        return dir;
    }

    /**
     * Stops the server, waits for it to exit and deletes its directory.
     * Idempotent. Problems are logged, not thrown.
     */
    @Override
    public void close() {
        stopOnce.close();
    }

    @Override
    public String toString() {
        return "GlanceServer[" + url + ", pid " + pid + ", " + dir + (stopOnce.isStopped() ? ", closed]" : "]");
    }

    /** Run once, by {@link #stopOnce}. */
    private void stopAndDelete() {
        long stoppingAt = System.nanoTime();
        try {
            Processes.Captured result = runDownScript(repo, dir);
            if (result.exitCode() != 0) {
                LOG.warn("{} {} exited with {}{}", DOWN_SCRIPT, dir, result.exitCode(), describe(result));
            }
        } catch (RuntimeException e) {
            LOG.warn("cannot stop Glance at {} (pid {}, files in {})", url, pid, dir, e);
        }
        LOG.info("Glance at {} stopped and removed in {} ms", url,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stoppingAt));
    }

    private static void cleanUpAfterFailedStart(Path repo, Path dir, Throwable failure) {
        try {
            Processes.Captured result = runDownScript(repo, dir);
            if (result.exitCode() != 0) {
                failure.addSuppressed(new IllegalStateException("cleanup " + DOWN_SCRIPT + " " + dir
                        + " exited with " + result.exitCode() + describe(result)));
            }
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
        if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Dirs.deleteRecursively(dir);
        }
    }

    /**
     * Runs {@value #DOWN_SCRIPT} DIR even from an interrupted thread (a failed
     * start may be an interrupt); the interrupt flag is restored afterwards.
     */
    private static Processes.Captured runDownScript(Path repo, Path dir) {
        boolean interrupted = Thread.interrupted();
        try {
            return runScript(repo, DOWN_SCRIPT, dir, STOP_TIMEOUT);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------- locating the scripts

    /**
     * The repository root: {@value #REPO_PROPERTY} or {@value #REPO_ENV} when
     * set (must contain {@value #UP_SCRIPT}), else the nearest directory at or
     * above the working directory that contains it.
     */
    static Path findRepo() {
        return RepoScripts.root(UP_SCRIPT, REPO_PROPERTY);
    }

    // ---------------------------------------------------------------- running the scripts

    /** The script's output for messages: both streams, each stripped, under headings. */
    private static String describe(Processes.Captured result) {
        return "\n--- stdout ---\n" + result.stdout().strip() + "\n--- stderr ---\n" + result.stderr().strip();
    }

    /**
     * Runs {@code bash SCRIPT DIR} from the repository root with stdout and
     * stderr captured to files (never pipes, so a daemon that inherited them
     * could not block us), waiting at most {@code timeout}. On timeout or
     * interruption the script gets SIGTERM (its trap stops what it started),
     * then SIGKILL after {@link #TERMINATE_GRACE}, and an
     * {@link IllegalStateException} carrying its output is thrown.
     */
    private static Processes.Captured runScript(Path repo, String script, Path dir, Duration timeout) {
        return Processes.command(List.of("bash", repo.resolve(script).toString(), dir.toString()))
                .log(LOG)
                .tempFiles("stratus-glance-")
                .directory(repo)
                .timeout(timeout)
                .reader(Processes.UTF8.keepingTail(OUTPUT_LIMIT, "chars").orPlaceholder())
                .stopWith(Processes.terminateThenKill(TERMINATE_GRACE, KILL_WAIT))
                .failOnTimeout(GlanceServer::describe)
                .interruptDetail(GlanceServer::describe)
                .run();
    }

    // ---------------------------------------------------------------- parsing DIR/env

    private static Map<String, String> readEnv(Path envFile, Processes.Captured result) {
        try {
            return EnvFile.read(envFile);
        } catch (IOException e) {
            throw new IllegalStateException(UP_SCRIPT + " succeeded but " + envFile + " is unreadable: " + e
                    + describe(result), e);
        }
    }

    private static URI parseUrl(Map<String, String> env, Processes.Captured result) {
        String value = env.get("GLANCE_URL");
        try {
            URI uri = new URI(value == null ? "" : value);
            if (!"http".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() <= 0) {
                throw new URISyntaxException(String.valueOf(value), "expected http://HOST:PORT");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw new IllegalStateException("bad or missing GLANCE_URL in env: " + value + describe(result), e);
        }
    }

    private static long parsePid(Map<String, String> env, Processes.Captured result) {
        String value = env.get("GLANCE_PID");
        try {
            long pid = Long.parseLong(value == null ? "" : value);
            if (pid <= 1) {
                throw new NumberFormatException("pid " + pid);
            }
            return pid;
        } catch (NumberFormatException e) {
            throw new IllegalStateException("bad or missing GLANCE_PID in env: " + value + describe(result), e);
        }
    }
}
