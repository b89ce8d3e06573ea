package io.stratus.testkit;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension giving each test class a fresh, empty PostgreSQL database
 * in a {@link PostgresCluster} shared by the whole test JVM.
 *
 * <pre>{@code
 * class OrderRepositoryTest {
 *     @RegisterExtension
 *     static final PostgresExtension PG = new PostgresExtension();
 *
 *     @Test
 *     void stores() throws SQLException {
 *         try (Connection c = DriverManager.getConnection(PG.jdbcUrl(), PG.user(), PG.password())) { ... }
 *     }
 * }
 * }</pre>
 *
 * <p>The cluster is started on first use and kept in the root
 * {@link ExtensionContext.Store}, which closes it (it is {@link AutoCloseable})
 * when all tests of the JVM have run; its own shutdown hook is the fallback.
 * The database is created before the class's first test (in
 * {@code beforeAll}), named after the class, and is not dropped: it goes away
 * with the cluster. {@code @Nested} classes share their enclosing class's
 * database.
 *
 * <p>Register it in a {@code static} field: an instance field would only be
 * initialised after {@code beforeAll}.
 */
public final class PostgresExtension implements BeforeAllCallback {

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(PostgresExtension.class);

    private volatile PostgresCluster cluster;
    private volatile String jdbcUrl;

    /** Creates the extension; nothing starts until the test class runs. */
    public PostgresExtension() {
    }

    /**
     * Starts the shared cluster if needed and creates this test class's database.
     *
     * @param context the test class's context
     */
    @Override
    public void beforeAll(ExtensionContext context) {
        PostgresCluster shared = sharedCluster(context);
        // Keyed by this instance: found in a parent context for @Nested classes,
        // not found for a sibling class (e.g. another subclass of a base test).
        ExtensionContext.Store classStore = context.getStore(NAMESPACE);
        String url = classStore.get(this, String.class);
        if (url == null) {
            url = shared.createDatabase(context.getRequiredTestClass().getSimpleName());
            classStore.put(this, url);
        }
        this.cluster = shared;
        this.jdbcUrl = url;
    }

    /**
     * JDBC URL of this test class's own database.
     *
     * @return the URL, for use with {@link #user()} and {@link #password()}
     * @throws IllegalStateException before {@code beforeAll} ran
     */
    public String jdbcUrl() {
        String url = jdbcUrl;
        if (url == null) {
            throw notStarted();
        }
        return url;
    }

    /**
     * Database user to connect as.
     *
     * @return the cluster's superuser name
     */
    public String user() {
        return cluster().user();
    }

    /**
     * Password of {@link #user()}.
     *
     * @return the password (empty: the cluster trusts local connections)
     */
    public String password() {
        return cluster().password();
    }

    /**
     * The shared cluster, e.g. to create further databases with
     * {@link PostgresCluster#createDatabase(String)}. Do not close it.
     *
     * @return the JVM-wide cluster
     * @throws IllegalStateException before {@code beforeAll} ran
     */
    public PostgresCluster cluster() {
        PostgresCluster shared = cluster;
        if (shared == null) {
            throw notStarted();
        }
        return shared;
    }

    private static PostgresCluster sharedCluster(ExtensionContext context) {
        return context.getRoot().getStore(NAMESPACE)
                .getOrComputeIfAbsent(PostgresCluster.class, type -> PostgresCluster.start(), PostgresCluster.class);
    }

    private static IllegalStateException notStarted() {
        return new IllegalStateException("PostgresExtension is not started: register it with @RegisterExtension"
                + " on a static field and use it from test methods or @BeforeAll/@BeforeEach");
    }
}
