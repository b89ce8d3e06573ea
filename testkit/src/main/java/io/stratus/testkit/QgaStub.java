package io.stratus.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.MinimalPrettyPrinter;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A unix-socket server that plays the qemu guest agent (qemu-ga) for a
 * {@link RelayGuest}: qemu connects to it ({@code <source mode='connect'>})
 * and libvirt's agent requests arrive here through the guest's relay.
 *
 * <p>Protocol, as libvirt 9.0 uses it: one JSON object per line each way,
 * {@code \n}-terminated. Answers
 * <ul>
 *   <li>{@code guest-sync} with {@code {"return": ID}} (ID from
 *       {@code arguments.id}); {@code guest-sync-delimited} the same, preceded
 *       by a {@code 0xFF} byte;</li>
 *   <li>{@code guest-ping} with {@code {"return": {}}};</li>
 *   <li>{@code guest-fsfreeze-freeze} and {@code guest-fsfreeze-freeze-list}
 *       with {@code {"return": N}} ({@link #filesystems(int) N}, default 1) and
 *       {@link #frozen()} becomes true; {@code guest-fsfreeze-thaw} with
 *       {@code {"return": N}} and it becomes false;</li>
 *   <li>{@code guest-fsfreeze-status} with {@code {"return": "thawed"}} or
 *       {@code "frozen"};</li>
 *   <li>anything else with {@code {"error": {"class": "CommandNotFound", ...}}}.</li>
 * </ul>
 * A top-level {@code "id"} in a request is echoed in its reply, as qemu-ga
 * does. Leading {@code 0xFF} bytes are skipped; a line that is not a JSON
 * object gets a {@code GenericError} reply (which puts libvirt's agent into an
 * error state, as a real agent would).
 *
 * <p>Every request is {@linkplain #commands() recorded} with its arrival time.
 * Faults: {@link #failNext(String, String)} answers the next such command with
 * a {@code GenericError} (libvirt reports {@code unable to execute QEMU agent
 * command 'X': DESC}); {@link #hangNext(String)} holds the next such command
 * unanswered until {@link #release()} (note that libvirt's default agent
 * timeout is "block": the libvirt call then waits until the release).
 *
 * <p>One connection at a time: when qemu reconnects (the relay channel uses
 * {@code <reconnect timeout='1'/>}), the new connection replaces the old one.
 * The socket file is made mode {@code 0777} so qemu ({@value Libvirt#QEMU_USER})
 * can connect; its directory must be searchable by that user (a
 * {@link Libvirt#scratchDir(String)} is).
 *
 * <pre>{@code
 * try (QgaStub stub = QgaStub.start(dir.resolve("stub.sock"))) {
 *     ... boot a RelayGuest pointing at stub.socket() ...
 *     Libvirt.virsh("domfsfreeze", name);
 *     assertTrue(stub.frozen());
 * }
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class QgaStub implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(QgaStub.class);

    /** Longest request line accepted; longer input is discarded up to the next newline. */
    private static final int MAX_LINE = 1 << 20;
    private static final Duration JOIN_WAIT = Duration.ofSeconds(2);
    /** Marks a reply to be preceded by a raw 0xFF byte. */
    private static final String DELIMITER = "\u00ff";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Replies spaced as qemu-ga writes them: {@code {"return": {}}}. */
    private static final ObjectWriter REPLY_WRITER = JSON.writer(new MinimalPrettyPrinter() {
        @Override
        public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(": ");
        }

        @Override
        public void writeObjectEntrySeparator(JsonGenerator g) throws IOException {
            g.writeRaw(", ");
        }

        @Override
        public void writeArrayValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(", ");
        }
    });

    /**
     * A request the stub received.
     *
     * @param execute the {@code "execute"} member ({@code ""} if missing)
     * @param nanoTime {@link System#nanoTime()} when its line arrived
     */
    public record Command(String execute, long nanoTime) {
    }

    /** A request waiting for {@link #release()}. */
    private record Held(Connection connection, Map<String, Object> request) {
    }

    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread acceptor;

    // Guarded by this.
    private final List<Command> commands = new ArrayList<>();
    private final Map<String, Deque<String>> failures = new HashMap<>();
    private final Map<String, Integer> hangs = new HashMap<>();
    private final List<Held> held = new ArrayList<>();
    private int filesystems = 1;
    private boolean frozen;
    private boolean closed;
    private Connection current;
    private int connections;

    private QgaStub(Path socket, ServerSocketChannel server) {
        this.socket = socket;
        this.server = server;
        this.acceptor = new Thread(this::acceptLoop, "qga-stub-accept-" + socket.getFileName());
        this.acceptor.setDaemon(true);
    }

    /**
     * Listens on {@code socket} (a leftover socket file there is replaced) and
     * starts answering connections.
     *
     * @param socket path of the unix socket to create; its directory must exist and
     *     the path must be shorter than ~107 bytes
     * @return the running stub; {@link #close()} it
     * @throws UncheckedIOException if the socket cannot be created
     * @throws IllegalStateException if something other than a socket exists at {@code socket}
     */
    public static QgaStub start(Path socket) {
        Path path = socket.toAbsolutePath();
        try {
            if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                if (!"s".equals(fileType(path))) {
                    throw new IllegalStateException(path + " exists and is not a socket; not replacing it");
                }
                Files.delete(path);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the old socket " + path, e);
        }
        ServerSocketChannel server;
        try {
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open a unix server socket", e);
        }
        try {
            server.bind(UnixDomainSocketAddress.of(path));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxrwxrwx"));
        } catch (IOException | RuntimeException e) {
            closeQuietly(server);
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // best effort
            }
            if (e instanceof IOException io) {
                throw new UncheckedIOException("cannot listen on " + path + " (" + path.toString().length()
                        + " chars; the limit is ~107; does the directory exist?)", io);
            }
            throw (RuntimeException) e;
        }
        QgaStub stub = new QgaStub(path, server);
        stub.acceptor.start();
        LOG.debug("qemu-ga stub listening on {}", path);
        return stub;
    }

    private static String fileType(Path path) throws IOException {
        Object mode = Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        int m = (Integer) mode & 0170000;
        return m == 0140000 ? "s" : "other";
    }

    /**
     * The socket qemu connects to; put it into the domain XML.
     *
     * @return its absolute path
     */
    public Path socket() {
        return socket;
    }

    /**
     * Sets N, the number of file systems that freeze, freeze-list and thaw report.
     *
     * @param n zero or more (default 1)
     * @return this
     */
    public synchronized QgaStub filesystems(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("filesystems must be >= 0, got " + n);
        }
        this.filesystems = n;
        return this;
    }

    /**
     * Whether the last successful freeze was not followed by a successful thaw.
     *
     * @return the simulated freeze state
     */
    public synchronized boolean frozen() {
        return frozen;
    }

    /**
     * Whether qemu is connected at the moment.
     *
     * @return true while a connection is open
     */
    public synchronized boolean connected() {
        return current != null;
    }

    /**
     * How many connections were accepted so far (more than one means qemu reconnected).
     *
     * @return the count
     */
    public synchronized int connections() {
        return connections;
    }

    /**
     * Every request received since the start or the last {@link #clearCommands()},
     * in arrival order, including {@code guest-sync}s and failed or held ones.
     *
     * @return a snapshot copy
     */
    public synchronized List<Command> commands() {
        return List.copyOf(commands);
    }

    /** Forgets the recorded {@link #commands()}, so that {@link #awaitCommand} waits for new ones. */
    public synchronized void clearCommands() {
        commands.clear();
    }

    /**
     * Waits for the first recorded command named {@code execute} (already
     * recorded, or arriving within {@code timeout}; {@link #clearCommands()}
     * first to wait for a new one).
     *
     * @param execute command name, for example {@code guest-fsfreeze-freeze}
     * @param timeout upper bound for the wait
     * @return the command
     * @throws IllegalStateException if none arrives in time (the message lists what arrived)
     * @throws InterruptedException if interrupted while waiting
     */
    public synchronized Command awaitCommand(String execute, Duration timeout) throws InterruptedException {
        Objects.requireNonNull(execute, "execute");
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            for (Command c : commands) {
                if (c.execute().equals(execute)) {
                    return c;
                }
            }
            long left = deadline - System.nanoTime();
            if (left <= 0 || closed) {
                throw new IllegalStateException("the qemu-ga stub on " + socket + " received no " + execute
                        + " within " + timeout.toMillis() + " ms" + (closed ? " (stub closed)" : "")
                        + "; received: " + commands.stream().map(Command::execute).toList()
                        + ", connected: " + (current != null));
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    /**
     * Makes the next {@code execute} command fail with
     * {@code {"error": {"class": "GenericError", "desc": DESC}}}; it has no
     * other effect. Calls add up (each fails one command).
     *
     * @param execute command name
     * @param desc the error description
     */
    public synchronized void failNext(String execute, String desc) {
        failures.computeIfAbsent(Objects.requireNonNull(execute, "execute"), k -> new ArrayDeque<>())
                .add(Objects.requireNonNull(desc, "desc"));
    }

    /**
     * Leaves the next {@code execute} command unanswered until
     * {@link #release()} (or {@link #close()}, which drops it); only then does
     * it take effect. Other commands are still answered meanwhile. Calls add up.
     *
     * @param execute command name
     */
    public synchronized void hangNext(String execute) {
        hangs.merge(Objects.requireNonNull(execute, "execute"), 1, Integer::sum);
    }

    /**
     * Answers every command held by {@link #hangNext(String)}, in arrival
     * order, on the connection it came in on (if that is gone, the reply is
     * dropped), and cancels pending hangs.
     */
    public void release() {
        List<Held> toAnswer;
        synchronized (this) {
            hangs.clear();
            toAnswer = List.copyOf(held);
            held.clear();
        }
        for (Held h : toAnswer) {
            h.connection().send(answer(h.request()));
        }
    }

    /** Stops listening, closes the connection, drops held commands and deletes the socket file. */
    @Override
    public void close() {
        Connection conn;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            conn = current;
            current = null;
            held.clear();
            notifyAll();
        }
        closeQuietly(server);
        if (conn != null) {
            conn.close();
        }
        try {
            acceptor.join(JOIN_WAIT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.debug("cannot delete {}", socket, e);
        }
    }

    // ---------------------------------------------------------------- connections

    private void acceptLoop() {
        while (true) {
            SocketChannel channel;
            try {
                channel = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                synchronized (this) {
                    if (closed) {
                        return;
                    }
                }
                LOG.warn("qemu-ga stub {}: accept failed", socket, e);
                return;
            }
            Connection conn = new Connection(channel);
            Connection old;
            synchronized (this) {
                if (closed) {
                    conn.close();
                    return;
                }
                old = current;
                current = conn;
                connections++;
                notifyAll();
            }
            if (old != null) {
                LOG.debug("qemu-ga stub {}: new connection replaces the old one", socket);
                old.close();
            }
            conn.start();
        }
    }

    /** One accepted connection: a reader thread and a serialised writer. */
    private final class Connection {

        private final SocketChannel channel;
        private final Thread reader;

        Connection(SocketChannel channel) {
            this.channel = channel;
            this.reader = new Thread(this::readLoop, "qga-stub-conn-" + socket.getFileName());
            this.reader.setDaemon(true);
        }

        void start() {
            reader.start();
        }

        private void readLoop() {
            ByteBuffer buffer = ByteBuffer.allocate(8192);
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            boolean discarding = false;
            try {
                while (channel.read(buffer.clear()) >= 0) {
                    buffer.flip();
                    while (buffer.hasRemaining()) {
                        byte b = buffer.get();
                        if (b == '\n') {
                            if (!discarding) {
                                onLine(this, line.toString(StandardCharsets.UTF_8));
                            }
                            line.reset();
                            discarding = false;
                        } else if (b == (byte) 0xFF) {
                            // guest-sync-delimited's delimiter: skip, as qemu-ga resets its parser.
                            line.reset();
                        } else if (!discarding) {
                            line.write(b);
                            if (line.size() > MAX_LINE) {
                                LOG.warn("qemu-ga stub {}: request longer than {} bytes discarded", socket, MAX_LINE);
                                line.reset();
                                discarding = true;
                            }
                        }
                    }
                }
            } catch (IOException e) {
                LOG.debug("qemu-ga stub {}: connection ended: {}", socket, e.toString());
            } finally {
                close();
                synchronized (QgaStub.this) {
                    if (current == this) {
                        current = null;
                    }
                    QgaStub.this.notifyAll();
                }
            }
        }

        synchronized void send(String reply) {
            if (reply == null) {
                return;
            }
            // A leading U+00FF stands for the raw 0xFF delimiter byte (guest-sync-delimited).
            boolean delimited = reply.startsWith(DELIMITER);
            byte[] text = (delimited ? reply.substring(1) : reply).getBytes(StandardCharsets.UTF_8);
            ByteBuffer out = ByteBuffer.allocate(text.length + (delimited ? 1 : 0));
            if (delimited) {
                out.put((byte) 0xFF);
            }
            out.put(text).flip();
            try {
                while (out.hasRemaining()) {
                    channel.write(out);
                }
            } catch (IOException e) {
                LOG.debug("qemu-ga stub {}: reply lost ({}): {}", socket, e.toString(), reply.strip());
            }
        }

        void close() {
            closeQuietly(channel);
        }
    }

    // ---------------------------------------------------------------- requests

    private void onLine(Connection conn, String text) {
        String line = text.strip();
        if (line.isEmpty()) {
            return;
        }
        long now = System.nanoTime();
        Map<String, Object> request;
        try {
            request = JSON.readValue(line, new TypeReference<LinkedHashMap<String, Object>>() { });
        } catch (JsonProcessingException e) {
            LOG.warn("qemu-ga stub {}: unparsable request {}: {}", socket, line, e.getMessage());
            conn.send(error("GenericError", "JSON parse error, " + e.getOriginalMessage(), null));
            return;
        }
        String execute = request.get("execute") instanceof String s ? s : "";
        String failure = null;
        boolean hang = false;
        synchronized (this) {
            commands.add(new Command(execute, now));
            notifyAll();
            Deque<String> queued = failures.get(execute);
            if (queued != null && !queued.isEmpty()) {
                failure = queued.poll();
            } else if (hangs.getOrDefault(execute, 0) > 0) {
                hangs.merge(execute, -1, Integer::sum);
                held.add(new Held(conn, request));
                hang = true;
            }
        }
        LOG.debug("qemu-ga stub {}: {}{}", socket, line,
                failure != null ? " -> injected error: " + failure : hang ? " -> held" : "");
        if (hang) {
            return;
        }
        conn.send(failure != null ? error("GenericError", failure, request.get("id")) : answer(request));
    }

    /** The normal reply to {@code request} (applying its effect), one line with its newline. */
    private String answer(Map<String, Object> request) {
        Object id = request.get("id");
        if (!(request.get("execute") instanceof String execute)) {
            return error("GenericError", "Expected 'execute' in QMP input", id);
        }
        Object arguments = request.get("arguments");
        Object result;
        synchronized (this) {
            switch (execute) {
                case "guest-sync", "guest-sync-delimited" -> {
                    Object syncId = arguments instanceof Map<?, ?> args ? args.get("id") : null;
                    if (syncId == null) {
                        return error("GenericError", "Parameter 'id' is missing", id);
                    }
                    String reply = reply(syncId, id);
                    return execute.equals("guest-sync-delimited") ? DELIMITER + reply : reply;
                }
                case "guest-ping" -> result = new LinkedHashMap<String, Object>();
                case "guest-fsfreeze-freeze", "guest-fsfreeze-freeze-list" -> {
                    frozen = true;
                    result = filesystems;
                }
                case "guest-fsfreeze-thaw" -> {
                    frozen = false;
                    result = filesystems;
                }
                case "guest-fsfreeze-status" -> result = frozen ? "frozen" : "thawed";
                default -> {
                    return error("CommandNotFound", "The command " + execute + " has not been found", id);
                }
            }
        }
        return reply(result, id);
    }

    private static String reply(Object result, Object id) {
        Map<String, Object> reply = new LinkedHashMap<>();
        reply.put("return", result);
        if (id != null) {
            reply.put("id", id);
        }
        return json(reply) + "\n";
    }

    private static String error(String errorClass, String desc, Object id) {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("class", errorClass);
        error.put("desc", desc);
        Map<String, Object> reply = new LinkedHashMap<>();
        reply.put("error", error);
        if (id != null) {
            reply.put("id", id);
        }
        return json(reply) + "\n";
    }

    private static String json(Map<String, Object> reply) {
        try {
            return REPLY_WRITER.writeValueAsString(reply);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a reply as JSON", e);
        }
    }

    private static void closeQuietly(java.io.Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException e) {
            LOG.debug("close failed", e);
        }
    }
}
