package io.stratus.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A throwaway PostgreSQL cluster started from the machine's own server binaries
 * ({@code initdb}, {@code pg_ctl}), for tests that need a real database.
 *
 * <p>The cluster lives in a fresh temporary directory, listens on a free TCP
 * port on 127.0.0.1 only, trusts every local connection (superuser
 * {@value #USER}, no password) and runs with durability switched off
 * ({@code fsync}, {@code synchronous_commit}, {@code full_page_writes}) for
 * speed. {@link #close()} stops it and deletes the directory; a JVM shutdown
 * hook does the same if {@code close()} is never called.
 *
 * <p>The cluster is made, started and stopped by {@value #SCRIPT}, the script
 * the all-in-one uses too: PostgreSQL refuses to run as root, so when this JVM
 * runs as root it hands the directory to the {@code postgres} OS user and runs
 * the server tools as that user.
 *
 * <p>The server binaries come from {@code $STRATUS_PG_BIN} or the
 * highest-version {@code /usr/lib/postgresql/<version>/bin}; run
 * {@code deploy/scripts/ensure-postgres.sh} to install them.
 *
 * <pre>{@code
 * try (PostgresCluster pg = PostgresCluster.start()) {
 *     String url = pg.createDatabase("orders");
 *     try (Connection c = DriverManager.getConnection(url, pg.user(), pg.password())) { ... }
 * }
 * }</pre>
 *
 * <p>Instances are thread-safe.
 */
public final class PostgresCluster implements AutoCloseable {

    /** Environment variable naming the PostgreSQL server bin directory. */
    public static final String PG_BIN_ENV = "STRATUS_PG_BIN";

    private static final Logger LOG = LoggerFactory.getLogger(PostgresCluster.class);

    /** The start-up script shared with the all-in-one, relative to the repository root. */
    public static final String SCRIPT = "deploy/scripts/pg-cluster.sh";

    private static final String HOST = "127.0.0.1";
    private static final String USER = "stratus";
    private static final Path DEBIAN_PG_ROOT = Paths.get("/usr/lib/postgresql");
    private static final int START_ATTEMPTS = 3;
    private static final int PG_CTL_WAIT_SECONDS = 60;
    /** Upper bound for any child process; above pg_ctl's own -t so it can report first. */
    private static final Duration PROCESS_TIMEOUT = Duration.ofSeconds(PG_CTL_WAIT_SECONDS + 30);
    private static final int LOG_TAIL_LINES = 40;
    private static final int MAX_IDENTIFIER_LENGTH = 63;

    private final Path binDir;
    private final Path baseDir;
    private final Path logFile;
    private final int port;
    private final AtomicInteger databaseCounter = new AtomicInteger();
    private final StopOnce stopOnce;
    /** The server's settings, to start it again the same way. */
    private final List<String> settings;

    private PostgresCluster(Path binDir, Path baseDir, int port, List<String> settings) {
        this.binDir = binDir;
        this.baseDir = baseDir;
        this.logFile = logFile(baseDir);
        this.port = port;
        this.settings = settings;
        this.stopOnce = new StopOnce("stratus-pg-shutdown-" + port, this::stopAndDelete);
    }

    /**
     * Creates and starts a new cluster in a fresh temporary directory.
     *
     * @return the running cluster; close it to stop it and delete its files
     * @throws IllegalStateException if the PostgreSQL server binaries are not
     *     installed, or initdb or the server fail (the message then carries the
     *     tool output and the tail of the server log)
     */
    public static PostgresCluster start() {
        return start(false);
    }

    /**
     * As {@link #start()}; with {@code durableCommits} a commit is acknowledged only once
     * its WAL is written ({@code synchronous_commit=on}), so a crash of the server process
     * ({@link #crashAndRestart}) loses no acknowledged transaction. Without it (the default,
     * faster) the last few hundred milliseconds of commits may be lost in such a crash.
     */
    public static PostgresCluster start(boolean durableCommits) {
        long startedAt = System.nanoTime();
        Path binDir = findBinDir();
        Path baseDir;
        try {
            baseDir = Files.createTempDirectory("stratus-pg-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary directory for PostgreSQL", e);
        }
        try {
            Processes.Captured init = script(binDir, baseDir, "init", baseDir.toString());
            if (init.exitCode() != 0) {
                throw new IllegalStateException(SCRIPT + " init " + baseDir + " failed with exit code "
                        + init.exitCode() + ":\n" + init.stdout()
                        + (Processes.runningAsRoot() ? "\n(running as 'postgres': it needs access to " + baseDir
                                + " and every parent directory; check java.io.tmpdir)" : ""));
            }
            PostgresCluster cluster = startServer(binDir, baseDir, durableCommits);
            cluster.stopOnce.registerHook();
            LOG.info("PostgreSQL started on {}:{} from {} in {} ms (data in {})", HOST, cluster.port, binDir,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAt), baseDir);
            return cluster;
        } catch (RuntimeException | Error e) {
            Dirs.deleteRecursively(baseDir);
            throw e;
        }
    }

    /**
     * Host the server listens on.
     *
     * @return always {@code 127.0.0.1}
     */
    public String host() {
        return HOST;
    }

    /**
     * TCP port the server listens on.
     *
     * @return the port, chosen free at start
     */
    public int port() {
        return port;
    }

    /**
     * Database superuser to connect as.
     *
     * @return {@value #USER}
     */
    public String user() {
        return USER;
    }

    /**
     * Password of {@link #user()}; the cluster trusts local connections, so any
     * password works.
     *
     * @return the empty string
     */
    public String password() {
        return "";
    }

    /**
     * JDBC URL of a database in this cluster.
     *
     * @param database database name, for example {@code postgres}
     * @return {@code jdbc:postgresql://127.0.0.1:<port>/<database>}
     */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://" + HOST + ":" + port + "/" + database;
    }

    /**
     * Creates a new, empty database with a unique name derived from
     * {@code prefix} (lower-cased, non-identifier characters replaced by
     * {@code _}, suffixed with a per-cluster counter), owned by {@link #user()}.
     *
     * @param prefix human-readable start of the name, for example the test class name
     * @return the new database's JDBC URL
     * @throws IllegalStateException if the cluster is closed or the database
     *     cannot be created
     */
    public String createDatabase(String prefix) {
        ensureOpen();
        String name = databaseName(prefix, databaseCounter.incrementAndGet());
        try (Connection connection = DriverManager.getConnection(jdbcUrl("postgres"), user(), password());
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE \"" + name + "\"");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + name + " on port " + port
                    + serverLogSection(logFile), e);
        }
        LOG.debug("created database {} on port {}", name, port);
        return jdbcUrl(name);
    }

    /**
     * Temporary directory holding the data directory, socket and server log;
     * deleted by {@link #close()}.
     *
     * @return the cluster's base directory
     */
    public Path baseDir() {
        return baseDir;
    }

    /**
     * Stops the server ({@code pg_ctl stop -m immediate}), waits for it to exit
     * and deletes the temporary directory. Idempotent.
     */
    @Override
    public void close() {
        stopOnce.close();
    }

    @Override
    public String toString() {
        return "PostgresCluster[" + HOST + ":" + port + ", " + baseDir + (stopOnce.isStopped() ? ", closed]" : "]");
    }

    /** Run once, by {@link #stopOnce}. */
    private void stopAndDelete() {
        long stoppingAt = System.nanoTime();
        try {
            Processes.Captured result = script(binDir, baseDir, "stop", baseDir.toString(), "immediate");
            if (result.exitCode() != 0) {
                LOG.warn("{} stop exited {} for port {}: {}{}", SCRIPT, result.exitCode(), port, result.stdout(),
                        serverLogSection(logFile));
            }
        } catch (RuntimeException e) {
            LOG.warn("cannot stop PostgreSQL on port {}", port, e);
        } finally {
            Dirs.deleteRecursively(baseDir);
        }
        LOG.info("PostgreSQL on port {} stopped and removed in {} ms", port,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stoppingAt));
    }

    private void ensureOpen() {
        if (stopOnce.isStopped()) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    // ---------------------------------------------------------------- start-up

    private static Path findBinDir() {
        String configured = System.getenv(PG_BIN_ENV);
        if (configured != null && !configured.isBlank()) {
            Path dir = Paths.get(configured);
            if (!hasServerTools(dir)) {
                throw new IllegalStateException(PG_BIN_ENV + "=" + configured
                        + " does not contain initdb and pg_ctl; fix it, or unset it and run"
                        + " deploy/scripts/ensure-postgres.sh");
            }
            return dir;
        }
        return findDebianBinDir().orElseThrow(() -> new IllegalStateException(
                "PostgreSQL server binaries not found; run deploy/scripts/ensure-postgres.sh"
                        + " (looked for " + PG_BIN_ENV + " and " + DEBIAN_PG_ROOT + "/<version>/bin/initdb)"));
    }

    private static Optional<Path> findDebianBinDir() {
        if (!Files.isDirectory(DEBIAN_PG_ROOT)) {
            return Optional.empty();
        }
        try (Stream<Path> versions = Files.list(DEBIAN_PG_ROOT)) {
            return versions
                    .map(version -> version.resolve("bin"))
                    .filter(PostgresCluster::hasServerTools)
                    .max(Comparator.comparing(bin -> bin.getParent().getFileName().toString(),
                            PostgresCluster::compareVersions));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + DEBIAN_PG_ROOT, e);
        }
    }

    private static boolean hasServerTools(Path bin) {
        return Files.isExecutable(bin.resolve("initdb")) && Files.isExecutable(bin.resolve("pg_ctl"));
    }

    /** Compares dotted versions numerically ("9.6" &lt; "10" &lt; "15"); non-numbers sort first. */
    static int compareVersions(String a, String b) {
        String[] left = a.split("\\.");
        String[] right = b.split("\\.");
        for (int i = 0; i < Math.max(left.length, right.length); i++) {
            long l = i < left.length ? parseOrMinus(left[i]) : 0;
            long r = i < right.length ? parseOrMinus(right[i]) : 0;
            if (l != r) {
                return Long.compare(l, r);
            }
        }
        return a.compareTo(b);
    }

    private static long parseOrMinus(String part) {
        try {
            return Long.parseLong(part);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static PostgresCluster startServer(Path binDir, Path baseDir, boolean durableCommits) {
        Path logFile = logFile(baseDir);
        List<String> settings = List.of("-c", "fsync=off", "-c", "full_page_writes=off",
                "-c", "synchronous_commit=" + (durableCommits ? "on" : "off"), "-c", "max_connections=200");
        List<String> failures = new ArrayList<>();
        for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
            int port = freePort();
            Processes.Captured result = start(binDir, baseDir, port, settings);
            if (result.exitCode() == 0) {
                return new PostgresCluster(binDir, baseDir, port, settings);
            }
            String failure = "attempt " + attempt + " on port " + port + ": " + SCRIPT + " start exited "
                    + result.exitCode() + ": " + result.stdout().strip();
            LOG.warn("PostgreSQL did not start, {}", failure);
            failures.add(failure);
        }
        throw new IllegalStateException("PostgreSQL did not start after " + START_ATTEMPTS + " attempts (data in "
                + baseDir + "):\n" + String.join("\n", failures) + serverLogSection(logFile));
    }

    private static Processes.Captured start(Path binDir, Path baseDir, int port, List<String> settings) {
        List<String> args = new ArrayList<>(List.of("start", baseDir.toString(), Integer.toString(port)));
        args.addAll(settings);
        return script(binDir, baseDir, args.toArray(String[]::new));
    }

    /**
     * Kills the server as a crash would ({@code pg_ctl stop -m immediate}: no checkpoint,
     * every connection cut), leaves it down for {@code down}, and starts it again on the
     * same port and data. Clients see their connections fail, then PostgreSQL's crash
     * recovery, then the server back.
     */
    public void crashAndRestart(Duration down) {
        Processes.Captured stop = script(binDir, baseDir, "stop", baseDir.toString(), "immediate");
        if (stop.exitCode() != 0) {
            throw new IllegalStateException(SCRIPT + " stop " + baseDir + " immediate failed: " + stop.stdout());
        }
        LOG.warn("PostgreSQL on port {} killed (immediate stop); down for {}", port, down);
        try {
            Thread.sleep(down.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Processes.Captured start = start(binDir, baseDir, port, settings);
        if (start.exitCode() != 0) {
            throw new IllegalStateException("PostgreSQL did not start again: " + start.stdout()
                    + serverLogSection(logFile));
        }
        LOG.info("PostgreSQL on port {} is back", port);
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(false);
            socket.bind(new InetSocketAddress(InetAddress.getByName(HOST), 0));
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free TCP port on " + HOST, e);
        }
    }

    static String databaseName(String prefix, int counter) {
        String cleaned = (prefix == null ? "" : prefix).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]+", "_");
        if (cleaned.isEmpty()) {
            cleaned = "db";
        } else if (!(Character.isLetter(cleaned.charAt(0)) || cleaned.charAt(0) == '_')) {
            cleaned = "db_" + cleaned;
        }
        String suffix = "_" + counter;
        if (cleaned.length() + suffix.length() > MAX_IDENTIFIER_LENGTH) {
            cleaned = cleaned.substring(0, MAX_IDENTIFIER_LENGTH - suffix.length());
        }
        return cleaned + suffix;
    }

    // ---------------------------------------------------------------- processes and files

    private static Path logFile(Path baseDir) {
        return baseDir.resolve("postgres.log");
    }

    /** Runs {@value #SCRIPT} with {@code args} and the cluster's server binaries. */
    private static Processes.Captured script(Path binDir, Path baseDir, String... args) {
        Path repo = RepoScripts.root(SCRIPT);
        List<String> command = new ArrayList<>(List.of("bash", repo.resolve(SCRIPT).toString()));
        command.addAll(List.of(args));
        return Processes.command(command)
                .log(LOG)
                .tempFiles("stratus-pg-cmd-")
                .mergeOutput()
                .directory(baseDir)
                .environment(Map.of(PG_BIN_ENV, binDir.toString()))
                .timeout(PROCESS_TIMEOUT)
                .failOnTimeout(timedOut -> "\n" + timedOut.stdout() + serverLogSection(logFile(baseDir)))
                .run();
    }

    private static String serverLogSection(Path logFile) {
        if (!Files.isReadable(logFile)) {
            return "\n(no server log at " + logFile + ")";
        }
        try {
            List<String> lines = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            List<String> tail = lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size());
            return "\n--- last " + tail.size() + " lines of " + logFile + " ---\n" + String.join("\n", tail);
        } catch (IOException | UncheckedIOException e) {
            return "\n(cannot read server log " + logFile + ": " + e + ")";
        }
    }
}
