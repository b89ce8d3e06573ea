package io.stratus.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the fixtures' child processes: standard input from {@code /dev/null},
 * standard output and error captured to temporary files (never pipes, so a
 * daemon that inherits the descriptors cannot block us), a bounded wait, and a
 * chosen way of stopping a process that overruns or whose caller is
 * interrupted.
 *
 * <pre>{@code
 * Processes.Captured result = Processes.command(List.of("bash", script.toString()))
 *         .log(LOG).tempFiles("stratus-x-").timeout(Duration.ofSeconds(60))
 *         .stopWith(Processes.terminateThenKill(Duration.ofSeconds(10), Duration.ofSeconds(10)))
 *         .failOnTimeout(c -> "\n" + c.stdout())
 *         .run();
 * }</pre>
 */
final class Processes {

    private static final Logger LOG = LoggerFactory.getLogger(Processes.class);
    private static final Path DEV_NULL = Paths.get("/dev/null");
    private static final Duration KILL_TREE_WAIT = Duration.ofSeconds(5);

    /** Reads a captured output file strictly as UTF-8 (malformed input is an {@link IOException}). */
    static final OutputReader UTF8 = file -> Files.readString(file, StandardCharsets.UTF_8);

    /** Reads a captured output file as UTF-8, replacing malformed input: a daemon's log tail may hold anything. */
    static final OutputReader LENIENT_UTF8 = file -> new String(Files.readAllBytes(file), StandardCharsets.UTF_8);

    /** Sends SIGKILL to the process only, without waiting for it. */
    static final Stopper KILL = Process::destroyForcibly;

    private Processes() {
    }

    /**
     * Starts describing a run of {@code command}.
     *
     * @param command program and arguments
     * @return a builder; set at least {@link Run#tempFiles(String)} and {@link Run#timeout(Duration)}
     */
    static Run command(List<String> command) {
        return new Run(command);
    }

    /** Ends a process that overran its time, or whose caller was interrupted. */
    @FunctionalInterface
    interface Stopper {
        /**
         * Stops {@code process}.
         *
         * @param process the running process
         * @throws InterruptedException if interrupted while waiting for it; the run
         *     then counts as interrupted
         */
        void stop(Process process) throws InterruptedException;
    }

    /** Turns a captured output file into text. */
    @FunctionalInterface
    interface OutputReader {
        /**
         * Reads the file.
         *
         * @param file the captured output
         * @return its text
         * @throws IOException if it cannot be read; the run then fails with an
         *     {@link UncheckedIOException} ("cannot run ...")
         */
        String read(Path file) throws IOException;

        /**
         * This reader, keeping only the last {@code limit} characters.
         *
         * @param limit characters to keep
         * @param unit word for the characters in the marker, e.g. {@code "chars"}
         * @return a reader prefixing cut text with {@code [... N <unit> cut ...]}
         */
        default OutputReader keepingTail(int limit, String unit) {
            return file -> keepTail(read(file), limit, unit);
        }

        /**
         * This reader, answering {@code (cannot read FILE: EXCEPTION)} instead of failing.
         *
         * @return a reader that never throws
         */
        default OutputReader orPlaceholder() {
            return file -> {
                try {
                    return read(file);
                } catch (IOException | RuntimeException e) {
                    return "(cannot read " + file + ": " + e + ")";
                }
            };
        }
    }

    /**
     * Outcome of a run.
     *
     * @param command the program and its arguments
     * @param exitCode the exit code, {@code -1} if it did not finish in time
     * @param timedOut whether it overran its timeout (and was stopped)
     * @param stdout standard output; with {@link Run#mergeOutput()} standard error too
     * @param stderr standard error; empty with {@link Run#mergeOutput()}
     */
    record Captured(List<String> command, int exitCode, boolean timedOut, String stdout, String stderr) {

        /**
         * The command as one line, for messages.
         *
         * @return program and arguments joined by spaces
         */
        String commandLine() {
            return String.join(" ", command);
        }
    }

    /** A run being described; {@link #run()} runs it. Not thread-safe. */
    static final class Run {

        private final List<String> command;
        private Logger log = LOG;
        private String tempPrefix;
        private boolean mergeOutput;
        private Path directory;
        private final Map<String, String> environment = new HashMap<>();
        private Duration timeout;
        private OutputReader reader = UTF8;
        private Stopper onTimeout = KILL;
        private Stopper onInterrupt = KILL;
        private Function<Captured, String> timeoutDetail;
        private Function<Captured, String> interruptDetail;

        private Run(List<String> command) {
            this.command = List.copyOf(command);
        }

        /**
         * Logger for the "running ..." and temp-file debug lines (default: this class's).
         *
         * @param log the caller's logger
         * @return this
         */
        Run log(Logger log) {
            this.log = Objects.requireNonNull(log, "log");
            return this;
        }

        /**
         * Prefix of the temporary files the output goes to ({@code PREFIX*.out},
         * {@code PREFIX*.err}); they are deleted afterwards.
         *
         * @param prefix for example {@code "stratus-pg-cmd-"}
         * @return this
         */
        Run tempFiles(String prefix) {
            this.tempPrefix = Objects.requireNonNull(prefix, "prefix");
            return this;
        }

        /**
         * Captures standard error into the same file as standard output.
         *
         * @return this
         */
        Run mergeOutput() {
            this.mergeOutput = true;
            return this;
        }

        /**
         * Working directory of the process (default: this JVM's).
         *
         * @param directory the directory
         * @return this
         */
        Run directory(Path directory) {
            this.directory = directory;
            return this;
        }

        /**
         * Variables added to the inherited environment.
         *
         * @param variables names and values
         * @return this
         */
        Run environment(Map<String, String> variables) {
            this.environment.putAll(variables);
            return this;
        }

        /**
         * Upper bound for the wait.
         *
         * @param timeout the bound
         * @return this
         */
        Run timeout(Duration timeout) {
            this.timeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /**
         * How the output files are read (default {@link #UTF8}).
         *
         * @param reader the reader
         * @return this
         */
        Run reader(OutputReader reader) {
            this.reader = Objects.requireNonNull(reader, "reader");
            return this;
        }

        /**
         * How a process that overran is stopped (default {@link #KILL}).
         *
         * @param stopper the way
         * @return this
         */
        Run onTimeout(Stopper stopper) {
            this.onTimeout = Objects.requireNonNull(stopper, "stopper");
            return this;
        }

        /**
         * How the process is stopped when the waiting thread is interrupted
         * (default {@link #KILL}).
         *
         * @param stopper the way
         * @return this
         */
        Run onInterrupt(Stopper stopper) {
            this.onInterrupt = Objects.requireNonNull(stopper, "stopper");
            return this;
        }

        /**
         * Sets both {@link #onTimeout(Stopper)} and {@link #onInterrupt(Stopper)}.
         *
         * @param stopper the way
         * @return this
         */
        Run stopWith(Stopper stopper) {
            return onTimeout(stopper).onInterrupt(stopper);
        }

        /**
         * Makes a timeout throw {@code IllegalStateException("timed out after N s: COMMAND" + detail)}
         * instead of returning a result with {@link Captured#timedOut()} set.
         *
         * @param detail text appended to the message, from the output so far
         * @return this
         */
        Run failOnTimeout(Function<Captured, String> detail) {
            this.timeoutDetail = Objects.requireNonNull(detail, "detail");
            return this;
        }

        /**
         * Text appended to the "interrupted while running COMMAND" message, from
         * the output so far (default: nothing, and the output is not read).
         *
         * @param detail the text
         * @return this
         */
        Run interruptDetail(Function<Captured, String> detail) {
            this.interruptDetail = Objects.requireNonNull(detail, "detail");
            return this;
        }

        /**
         * Runs the command and waits for it, at most the timeout.
         *
         * @return exit code and output
         * @throws IllegalStateException if interrupted (the process is stopped and
         *     the thread's interrupt flag set), or on timeout after
         *     {@link #failOnTimeout(Function)}
         * @throws UncheckedIOException if the command cannot be started or its
         *     output cannot be read
         */
        Captured run() {
            Objects.requireNonNull(tempPrefix, "tempFiles");
            Objects.requireNonNull(timeout, "timeout");
            String commandLine = String.join(" ", command);
            log.debug("running {}", command);
            Path out = null;
            Path err = null;
            try {
                out = Files.createTempFile(tempPrefix, ".out");
                ProcessBuilder builder = new ProcessBuilder(command)
                        .redirectInput(ProcessBuilder.Redirect.from(DEV_NULL.toFile()))
                        .redirectOutput(out.toFile());
                if (mergeOutput) {
                    builder.redirectErrorStream(true);
                } else {
                    err = Files.createTempFile(tempPrefix, ".err");
                    builder.redirectError(err.toFile());
                }
                if (directory != null) {
                    builder.directory(directory.toFile());
                }
                builder.environment().putAll(environment);
                Process process = builder.start();
                boolean timedOut = false;
                try {
                    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                        timedOut = true;
                        onTimeout.stop(process);
                    }
                } catch (InterruptedException e) {
                    try {
                        onInterrupt.stop(process);
                    } catch (InterruptedException again) {
                        process.destroyForcibly();
                    }
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while running " + commandLine
                            + (interruptDetail == null ? "" : interruptDetail.apply(capture(-1, false, out, err))), e);
                }
                Captured result = capture(timedOut ? -1 : process.exitValue(), timedOut, out, err);
                if (timedOut && timeoutDetail != null) {
                    throw new IllegalStateException("timed out after " + timeout.toSeconds() + " s: "
                            + commandLine + timeoutDetail.apply(result));
                }
                return result;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot run " + commandLine, e);
            } finally {
                deleteQuietly(out);
                deleteQuietly(err);
            }
        }

        private Captured capture(int exitCode, boolean timedOut, Path out, Path err) throws IOException {
            return new Captured(command, exitCode, timedOut, reader.read(out), err == null ? "" : reader.read(err));
        }

        private void deleteQuietly(Path file) {
            if (file == null) {
                return;
            }
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                log.debug("cannot delete {}", file, e);
            }
        }
    }

    // ---------------------------------------------------------------- stopping

    /**
     * SIGTERM to the process itself only (a script's trap then cleans up; its
     * daemons and a running apt/dpkg must not be killed half-way), SIGKILL if it
     * is still there after {@code grace}, then a wait of at most
     * {@code afterKill}. An interrupt during the waits means SIGKILL at once
     * (the interrupt flag is set again).
     *
     * @param grace time between SIGTERM and SIGKILL
     * @param afterKill time to wait for the process after SIGKILL
     * @return the stopper
     */
    static Stopper terminateThenKill(Duration grace, Duration afterKill) {
        return process -> {
            process.destroy();
            try {
                if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(afterKill.toMillis(), TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        };
    }

    /**
     * SIGKILL to the process and all its descendants, then a wait of at most
     * 5 s for the process (an interrupt ends the wait and is kept).
     *
     * @param process the root of the tree
     */
    static void killTree(Process process) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(KILL_TREE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- output and /proc

    /**
     * The last {@code limit} characters of {@code text}, prefixed with
     * {@code [... N <unit> cut ...]} and a newline if anything was cut.
     *
     * @param text the text
     * @param limit characters to keep
     * @param unit word for the characters in the marker
     * @return {@code text} itself if it is short enough
     */
    static String keepTail(String text, int limit, String unit) {
        if (text.length() <= limit) {
            return text;
        }
        return "[... " + (text.length() - limit) + " " + unit + " cut ...]\n" + text.substring(text.length() - limit);
    }

    /**
     * Whether process {@code pid} exists and is neither a zombie nor dead, from
     * {@code /proc/PID/stat} (a daemon's parent may be init, which reaps late).
     *
     * @param pid the process id
     * @return false also when {@code /proc} cannot be read
     */
    static boolean isRunning(long pid) {
        try {
            String stat = Files.readString(Paths.get("/proc/" + pid + "/stat"), StandardCharsets.UTF_8);
            char state = stat.substring(stat.lastIndexOf(')') + 2).charAt(0);
            return state != 'Z' && state != 'X';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * Whether this JVM runs with effective uid 0, from {@code /proc/self/status}
     * (no child process); {@code user.name} is the fallback.
     *
     * @return true when running as root
     */
    static boolean runningAsRoot() {
        try {
            for (String line : Files.readAllLines(Paths.get("/proc/self/status"), StandardCharsets.UTF_8)) {
                if (line.startsWith("Uid:")) {
                    String[] ids = line.substring(4).trim().split("\\s+");
                    return ids.length > 1 && ids[1].equals("0");
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("cannot read /proc/self/status; falling back to user.name", e);
        }
        return "root".equals(System.getProperty("user.name"));
    }
}
