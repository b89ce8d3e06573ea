package io.stratus.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
    public static final String REPO_ENV = "STRATUS_REPO";

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
    private static final int OUTPUT_LIMIT = 20_000;

    private final Path repo;
    private final Path dir;
    private final URI url;
    private final long pid;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread shutdownHook;

    private GlanceServer(Path repo, Path dir, URI url, long pid) {
        this.repo = repo;
        this.dir = dir;
        this.url = url;
        this.pid = pid;
        this.shutdownHook = new Thread(this::stopAndDelete, "stratus-glance-shutdown-" + url.getPort());
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
            ScriptResult result = runScript(repo, UP_SCRIPT, dir, timeout);
            if (result.exitCode() != 0) {
                throw new IllegalStateException(UP_SCRIPT + " " + dir + " exited with " + result.exitCode()
                        + result.describe());
            }
            Map<String, String> env = readEnv(dir.resolve("env"), result);
            server = new GlanceServer(repo, dir, parseUrl(env, result), parsePid(env, result));
        } catch (RuntimeException | Error e) {
            cleanUpAfterFailedStart(repo, dir, e);
            throw e;
        }
        try {
            Runtime.getRuntime().addShutdownHook(server.shutdownHook);
        } catch (IllegalStateException shuttingDown) {
            server.stopAndDelete();
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
        if (closed.get()) {
            return;
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // The hook is running or about to; stopAndDelete is idempotent.
        }
        stopAndDelete();
    }

    @Override
    public String toString() {
        return "GlanceServer[" + url + ", pid " + pid + ", " + dir + (closed.get() ? ", closed]" : "]");
    }

    private void stopAndDelete() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        long stoppingAt = System.nanoTime();
        // Stop the server even when called from an interrupted thread; restore the flag afterwards.
        boolean interrupted = Thread.interrupted();
        try {
            ScriptResult result = runScript(repo, DOWN_SCRIPT, dir, STOP_TIMEOUT);
            if (result.exitCode() != 0) {
                LOG.warn("{} {} exited with {}{}", DOWN_SCRIPT, dir, result.exitCode(), result.describe());
            }
        } catch (RuntimeException e) {
            LOG.warn("cannot stop Glance at {} (pid {}, files in {})", url, pid, dir, e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        LOG.info("Glance at {} stopped and removed in {} ms", url,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stoppingAt));
    }

    private static void cleanUpAfterFailedStart(Path repo, Path dir, Throwable failure) {
        // Clean up even when the failure was an interrupt; restore the flag afterwards.
        boolean interrupted = Thread.interrupted();
        try {
            ScriptResult result = runScript(repo, DOWN_SCRIPT, dir, STOP_TIMEOUT);
            if (result.exitCode() != 0) {
                failure.addSuppressed(new IllegalStateException("cleanup " + DOWN_SCRIPT + " " + dir
                        + " exited with " + result.exitCode() + result.describe()));
            }
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            deleteRecursively(dir);
        }
    }

    // ---------------------------------------------------------------- locating the scripts

    /**
     * The repository root: {@value #REPO_PROPERTY} or {@value #REPO_ENV} when
     * set (must contain {@value #UP_SCRIPT}), else the nearest directory at or
     * above the working directory that contains it.
     */
    static Path findRepo() {
        String configured = System.getProperty(REPO_PROPERTY);
        String source = "system property " + REPO_PROPERTY;
        if (configured == null || configured.isBlank()) {
            configured = System.getenv(REPO_ENV);
            source = "$" + REPO_ENV;
        }
        if (configured != null && !configured.isBlank()) {
            Path root = Paths.get(configured).toAbsolutePath().normalize();
            if (!Files.isRegularFile(root.resolve(UP_SCRIPT))) {
                throw new IllegalStateException(source + "=" + configured + " does not contain " + UP_SCRIPT);
            }
            return root;
        }
        Path start = Paths.get(System.getProperty("user.dir")).toAbsolutePath().normalize();
        for (Path candidate = start; candidate != null; candidate = candidate.getParent()) {
            if (Files.isRegularFile(candidate.resolve(UP_SCRIPT))) {
                return candidate;
            }
        }
        throw new IllegalStateException("cannot find " + UP_SCRIPT + " in " + start
                + " or any parent directory; set " + REPO_ENV + " to the Stratus repository root");
    }

    // ---------------------------------------------------------------- running the scripts

    private record ScriptResult(int exitCode, String stdout, String stderr) {
        String describe() {
            return "\n--- stdout ---\n" + stdout.strip() + "\n--- stderr ---\n" + stderr.strip();
        }
    }

    /**
     * Runs {@code bash SCRIPT DIR} from the repository root with stdout and
     * stderr captured to files (never pipes, so a daemon that inherited them
     * could not block us), waiting at most {@code timeout}. On timeout or
     * interruption the script gets SIGTERM (its trap stops what it started),
     * then SIGKILL after {@link #TERMINATE_GRACE}.
     */
    private static ScriptResult runScript(Path repo, String script, Path dir, Duration timeout) {
        List<String> command = List.of("bash", repo.resolve(script).toString(), dir.toString());
        LOG.debug("running {}", command);
        Path out = null;
        Path err = null;
        try {
            out = Files.createTempFile("stratus-glance-", ".out");
            err = Files.createTempFile("stratus-glance-", ".err");
            Process process = new ProcessBuilder(command)
                    .directory(repo.toFile())
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Paths.get("/dev/null").toFile()))
                    .start();
            boolean finished;
            try {
                finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                terminate(process);
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while running " + String.join(" ", command)
                        + new ScriptResult(-1, read(out), read(err)).describe(), e);
            }
            if (!finished) {
                terminate(process);
                throw new IllegalStateException("timed out after " + timeout.toSeconds() + " s: "
                        + String.join(" ", command) + new ScriptResult(-1, read(out), read(err)).describe());
            }
            return new ScriptResult(process.exitValue(), read(out), read(err));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
        } finally {
            for (Path file : new Path[] {out, err}) {
                if (file != null) {
                    try {
                        Files.deleteIfExists(file);
                    } catch (IOException e) {
                        LOG.debug("cannot delete {}", file, e);
                    }
                }
            }
        }
    }

    private static void terminate(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(TERMINATE_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static String read(Path file) {
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            return text.length() <= OUTPUT_LIMIT ? text
                    : "[... " + (text.length() - OUTPUT_LIMIT) + " chars cut ...]\n"
                            + text.substring(text.length() - OUTPUT_LIMIT);
        } catch (IOException | UncheckedIOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    // ---------------------------------------------------------------- parsing DIR/env

    private static Map<String, String> readEnv(Path envFile, ScriptResult result) {
        List<String> lines;
        try {
            lines = Files.readAllLines(envFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(UP_SCRIPT + " succeeded but " + envFile + " is unreadable: " + e
                    + result.describe(), e);
        }
        Map<String, String> env = new LinkedHashMap<>();
        for (String line : lines) {
            int eq = line.indexOf('=');
            if (eq > 0 && !line.startsWith("#")) {
                env.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
            }
        }
        return env;
    }

    private static URI parseUrl(Map<String, String> env, ScriptResult result) {
        String value = env.get("GLANCE_URL");
        try {
            URI uri = new URI(value == null ? "" : value);
            if (!"http".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() <= 0) {
                throw new URISyntaxException(String.valueOf(value), "expected http://HOST:PORT");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw new IllegalStateException("bad or missing GLANCE_URL in env: " + value + result.describe(), e);
        }
    }

    private static long parsePid(Map<String, String> env, ScriptResult result) {
        String value = env.get("GLANCE_PID");
        try {
            long pid = Long.parseLong(value == null ? "" : value);
            if (pid <= 1) {
                throw new NumberFormatException("pid " + pid);
            }
            return pid;
        } catch (NumberFormatException e) {
            throw new IllegalStateException("bad or missing GLANCE_PID in env: " + value + result.describe(), e);
        }
    }

    private static void deleteRecursively(Path path) {
        try {
            if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
                try (DirectoryStream<Path> children = Files.newDirectoryStream(path)) {
                    for (Path child : children) {
                        deleteRecursively(child);
                    }
                }
            }
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.warn("cannot delete {}", path, e);
        }
    }
}
