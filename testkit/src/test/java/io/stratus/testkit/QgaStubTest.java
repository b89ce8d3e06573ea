package io.stratus.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stub's protocol, talked to directly over its socket (no libvirt needed). */
class QgaStubTest {

    @TempDir
    Path dir;

    @Test
    void answersLikeQemuGaAndRecordsCommands() throws Exception {
        try (QgaStub stub = QgaStub.start(dir.resolve("s.sock")); Client c = new Client(stub.socket())) {
            assertEquals("rwxrwxrwx", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(stub.socket())));
            assertEquals("{\"return\": 1795463842785}",
                    c.call("{\"execute\":\"guest-sync\", \"arguments\":{\"id\":1795463842785}}"));
            assertEquals("{\"return\": {}, \"id\": \"abc\"}", c.call("{\"execute\":\"guest-ping\",\"id\":\"abc\"}"));
            assertEquals("{\"return\": \"thawed\"}", c.call("{\"execute\":\"guest-fsfreeze-status\"}"));
            assertEquals("{\"return\": 1}", c.call("{\"execute\":\"guest-fsfreeze-freeze\"}"));
            assertTrue(stub.frozen());
            assertEquals("{\"return\": \"frozen\"}", c.call("{\"execute\":\"guest-fsfreeze-status\"}"));
            stub.filesystems(3);
            assertEquals("{\"return\": 3}", c.call("{\"execute\":\"guest-fsfreeze-thaw\"}"));
            assertFalse(stub.frozen());
            assertEquals("{\"return\": 3}",
                    c.call("{\"execute\":\"guest-fsfreeze-freeze-list\",\"arguments\":{\"mountpoints\":[\"/mnt\"]}}"));
            assertTrue(c.call("{\"execute\":\"guest-nope\"}").startsWith("{\"error\": {\"class\": \"CommandNotFound\""));
            assertTrue(c.call("not json").startsWith("{\"error\": {\"class\": \"GenericError\""));
            assertEquals(List.of("guest-sync", "guest-ping", "guest-fsfreeze-status", "guest-fsfreeze-freeze",
                    "guest-fsfreeze-status", "guest-fsfreeze-thaw", "guest-fsfreeze-freeze-list", "guest-nope"),
                    stub.commands().stream().map(QgaStub.Command::execute).toList());
        }
    }

    @Test
    void injectsFailuresAndHangs() throws Exception {
        try (QgaStub stub = QgaStub.start(dir.resolve("s.sock")); Client c = new Client(stub.socket())) {
            stub.failNext("guest-fsfreeze-freeze", "injected");
            assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"injected\"}}",
                    c.call("{\"execute\":\"guest-fsfreeze-freeze\"}"));
            assertFalse(stub.frozen());
            assertEquals("{\"return\": 1}", c.call("{\"execute\":\"guest-fsfreeze-freeze\"}"));

            stub.hangNext("guest-fsfreeze-thaw");
            stub.clearCommands();
            c.send("{\"execute\":\"guest-fsfreeze-thaw\"}");
            stub.awaitCommand("guest-fsfreeze-thaw", Duration.ofSeconds(5));
            assertEquals("{\"return\": {}}", c.call("{\"execute\":\"guest-ping\"}"), "others are still answered");
            assertTrue(stub.frozen(), "a held thaw has no effect yet");
            stub.release();
            assertEquals("{\"return\": 1}", c.readLine());
            assertFalse(stub.frozen());
            assertThrows(IllegalStateException.class, () -> stub.awaitCommand("guest-info", Duration.ofMillis(50)));
        }
    }

    @Test
    void aNewConnectionReplacesTheOldOne() throws Exception {
        try (QgaStub stub = QgaStub.start(dir.resolve("s.sock"))) {
            try (Client first = new Client(stub.socket())) {
                assertEquals("{\"return\": {}}", first.call("{\"execute\":\"guest-ping\"}"));
                try (Client second = new Client(stub.socket())) {
                    assertEquals("{\"return\": {}}", second.call("{\"execute\":\"guest-ping\"}"));
                    assertEquals(2, stub.connections());
                    assertEquals(null, first.readLine(), "the old connection is closed");
                }
            }
        }
    }

    /** A line-based client of the stub (what qemu's chardev is, seen from the stub). */
    private static final class Client implements AutoCloseable {
        private final SocketChannel channel;
        private final OutputStream out;
        private final BufferedReader in;

        Client(Path socket) throws Exception {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            out = Channels.newOutputStream(channel);
            in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        }

        void send(String line) throws Exception {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        String readLine() throws Exception {
            return in.readLine();
        }

        String call(String line) throws Exception {
            send(line);
            return readLine();
        }

        @Override
        public void close() throws Exception {
            channel.close();
        }
    }
}
