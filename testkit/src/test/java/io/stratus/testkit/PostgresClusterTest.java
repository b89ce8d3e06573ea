package io.stratus.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs real PostgreSQL clusters from the machine's binaries. */
class PostgresClusterTest {

    private static final Logger LOG = LoggerFactory.getLogger(PostgresClusterTest.class);

    @RegisterExtension
    static final PostgresExtension PG = new PostgresExtension();

    @Test
    void databasesAreIsolatedAndCloseRemovesEverything() throws Exception {
        long startNanos = System.nanoTime();
        PostgresCluster cluster = PostgresCluster.start();
        long startedNanos = System.nanoTime();
        Path baseDir = cluster.baseDir();
        int port = cluster.port();
        try {
            assertEquals("127.0.0.1", cluster.host());
            assertEquals("stratus", cluster.user());
            assertTrue(Files.isDirectory(baseDir));

            String first = cluster.createDatabase("Isolation-Test");
            String second = cluster.createDatabase("Isolation-Test");
            assertNotEquals(first, second);
            assertTrue(first.startsWith("jdbc:postgresql://127.0.0.1:" + port + "/isolation_test_"), first);

            for (String url : List.of(first, second)) {
                try (Connection c = DriverManager.getConnection(url, cluster.user(), cluster.password());
                        Statement s = c.createStatement()) {
                    s.execute("CREATE TABLE item (name text PRIMARY KEY)");
                    try (PreparedStatement insert = c.prepareStatement("INSERT INTO item VALUES (?)")) {
                        insert.setString(1, "in " + databaseOf(url));
                        assertEquals(1, insert.executeUpdate());
                    }
                }
            }
            try (Connection c = DriverManager.getConnection(first, cluster.user(), cluster.password());
                    Statement s = c.createStatement()) {
                s.execute("CREATE TABLE only_in_first (id int)");
            }

            assertEquals(List.of("in " + databaseOf(first)), names(cluster, first));
            assertEquals(List.of("in " + databaseOf(second)), names(cluster, second));
            try (Connection c = DriverManager.getConnection(second, cluster.user(), cluster.password());
                    Statement s = c.createStatement();
                    ResultSet rs = s.executeQuery("SELECT to_regclass('only_in_first')")) {
                assertTrue(rs.next());
                assertNull(rs.getString(1), "table of the first database visible in the second");
            }
        } finally {
            long stoppingNanos = System.nanoTime();
            cluster.close();
            LOG.info("cluster start took {} ms, close took {} ms", (startedNanos - startNanos) / 1_000_000,
                    (System.nanoTime() - stoppingNanos) / 1_000_000);
        }

        assertFalse(Files.exists(baseDir), baseDir + " still exists after close()");
        assertThrows(IOException.class, () -> {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
            }
        }, "port " + port + " still accepts connections after close()");
        cluster.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> cluster.createDatabase("late"));
    }

    @Test
    void extensionGivesTheClassAnEmptyDatabase() throws SQLException {
        try (Connection c = DriverManager.getConnection(PG.jdbcUrl(), PG.user(), PG.password());
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT current_database(), current_user,"
                        + " (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'), version()")) {
            assertTrue(rs.next());
            assertTrue(rs.getString(1).startsWith("postgresclustertest_"), rs.getString(1));
            assertEquals("stratus", rs.getString(2));
            assertEquals(0, rs.getLong(3));
            assertTrue(rs.getString(4).startsWith("PostgreSQL "), rs.getString(4));
        }
        assertEquals(PG.cluster().jdbcUrl(databaseOf(PG.jdbcUrl())), PG.jdbcUrl());
    }

    @Test
    void databaseNamesAreValidIdentifiers() {
        assertEquals("my_test_7", PostgresCluster.databaseName("My Test", 7));
        assertEquals("db_1", PostgresCluster.databaseName("", 1));
        assertEquals("db_9lives_2", PostgresCluster.databaseName("9lives", 2));
        assertEquals("db_3", PostgresCluster.databaseName(null, 3));
        String longName = PostgresCluster.databaseName("x".repeat(100), 12345);
        assertEquals(63, longName.length());
        assertTrue(longName.endsWith("_12345"));
    }

    @Test
    void versionsCompareNumerically() {
        assertTrue(PostgresCluster.compareVersions("9.6", "10") < 0);
        assertTrue(PostgresCluster.compareVersions("15", "10") > 0);
        assertTrue(PostgresCluster.compareVersions("17", "17.2") < 0);
        assertEquals(0, PostgresCluster.compareVersions("15", "15"));
    }

    /** A nested class shares its enclosing class's database; its own extension gets a new one. */
    @Nested
    class NestedClass {

        @RegisterExtension
        static final PostgresExtension OWN = new PostgresExtension();

        @Test
        void sharesTheClusterButNotTheDatabase() throws SQLException {
            assertSame(PG.cluster(), OWN.cluster());
            assertNotEquals(PG.jdbcUrl(), OWN.jdbcUrl());
            assertTrue(databaseOf(PG.jdbcUrl()).startsWith("postgresclustertest_"), PG.jdbcUrl());
            assertTrue(databaseOf(OWN.jdbcUrl()).startsWith("nestedclass_"), OWN.jdbcUrl());
            try (Connection c = DriverManager.getConnection(OWN.jdbcUrl(), OWN.user(), OWN.password());
                    Statement s = c.createStatement();
                    ResultSet rs = s.executeQuery("SELECT 6 * 7")) {
                assertTrue(rs.next());
                assertEquals(42, rs.getInt(1));
            }
        }
    }

    private static List<String> names(PostgresCluster cluster, String url) throws SQLException {
        List<String> names = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url, cluster.user(), cluster.password());
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT name FROM item ORDER BY name")) {
            while (rs.next()) {
                names.add(rs.getString(1));
            }
        }
        return names;
    }

    private static String databaseOf(String url) {
        return url.substring(url.lastIndexOf('/') + 1);
    }
}
