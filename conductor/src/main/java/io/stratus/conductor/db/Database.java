package io.stratus.conductor.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.util.function.Consumer;
import java.util.function.Function;
import org.flywaydb.core.Flyway;
import org.hibernate.Session;
import org.hibernate.SessionFactory;
import org.hibernate.boot.MetadataSources;
import org.hibernate.boot.registry.StandardServiceRegistry;
import org.hibernate.boot.registry.StandardServiceRegistryBuilder;
import org.hibernate.cfg.AvailableSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The conductor's PostgreSQL database: a HikariCP pool, the schema brought to the newest
 * version by Flyway migrations ({@code db/migration}), and a Hibernate session factory.
 * Hibernate never changes the schema itself.
 */
public final class Database implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Database.class);

  private final HikariDataSource dataSource;
  private final SessionFactory sessionFactory;

  private Database(HikariDataSource dataSource, SessionFactory sessionFactory) {
    this.dataSource = dataSource;
    this.sessionFactory = sessionFactory;
  }

  /**
   * Brings the schema to the newest version with Flyway's migrations ({@code
   * db/migration}); safe to run from several processes at once (Flyway takes a PostgreSQL
   * advisory lock). Returns the schema version.
   */
  public static String migrate(javax.sql.DataSource dataSource) {
    var result =
        Flyway.configure()
            .dataSource(dataSource)
            .locations("classpath:db/migration")
            .load()
            .migrate();
    LOG.info("schema at version {} ({} migrations applied)",
        result.targetSchemaVersion, result.migrationsExecuted);
    return result.targetSchemaVersion;
  }

  /** Connects, migrates the schema and builds the session factory. */
  public static Database open(String jdbcUrl, String user, String password, int poolSize) {
    HikariConfig pool = new HikariConfig();
    pool.setJdbcUrl(jdbcUrl);
    pool.setUsername(user);
    pool.setPassword(password);
    pool.setMaximumPoolSize(poolSize);
    pool.setPoolName("conductor-db");
    pool.setAutoCommit(false);
    pool.setConnectionTimeout(10_000);
    HikariDataSource dataSource = new HikariDataSource(pool);
    try {
      migrate(dataSource);

      StandardServiceRegistry registry =
          new StandardServiceRegistryBuilder()
              .applySetting(AvailableSettings.JAKARTA_NON_JTA_DATASOURCE, dataSource)
              .applySetting(AvailableSettings.HBM2DDL_AUTO, "none")
              .applySetting(AvailableSettings.CONNECTION_PROVIDER_DISABLES_AUTOCOMMIT, true)
              .applySetting(AvailableSettings.JDBC_TIME_ZONE, "UTC")
              .build();
      SessionFactory sessionFactory =
          new MetadataSources(registry)
              .addAnnotatedClass(InstanceEntity.class)
              .addAnnotatedClass(InstanceActionEntity.class)
              .addAnnotatedClass(InstanceActionEventEntity.class)
              .addAnnotatedClass(InstanceFaultEntity.class)
              .addAnnotatedClass(HostEntity.class)
              .addAnnotatedClass(ApiTokenEntity.class)
              .addAnnotatedClass(UserEntity.class)
              .addAnnotatedClass(VolumeEntity.class)
              .addAnnotatedClass(VolumeSnapshotEntity.class)
              .buildMetadata()
              .buildSessionFactory();
      return new Database(dataSource, sessionFactory);
    } catch (RuntimeException e) {
      dataSource.close();
      throw e;
    }
  }

  /** Publishes the connection pool's meters ({@code hikaricp_connections_*}); once. */
  public void bindMetrics(io.micrometer.core.instrument.MeterRegistry registry) {
    dataSource.setMetricRegistry(registry);
  }

  /**
   * A new connection outside the pool, in auto-commit, for a caller that holds it for long
   * (the event relay's {@code LISTEN}); the caller closes it.
   */
  public java.sql.Connection dedicatedConnection() throws java.sql.SQLException {
    java.sql.Connection c = java.sql.DriverManager.getConnection(dataSource.getJdbcUrl(),
        dataSource.getUsername(), dataSource.getPassword());
    c.setAutoCommit(true);
    return c;
  }

  /** Runs {@code work} in one transaction and returns its result; rolls back on failure. */
  public <T> T inTransaction(Function<Session, T> work) {
    return sessionFactory.fromTransaction(work);
  }

  /** Runs {@code work} in one transaction; rolls back on failure. */
  public void run(Consumer<Session> work) {
    sessionFactory.inTransaction(work);
  }

  /**
   * As {@link #inTransaction}, but waits out a database that is restarting: a failure to
   * reach it (no connection, the server shutting down, a connection cut mid-transaction)
   * is retried with backoff (0.25 s doubling to 5 s) for up to {@code patience}; any other
   * failure, or the last one, is thrown. For work that must not be dropped because
   * PostgreSQL restarted (applying what an agent reports). {@code work} must be safe to run
   * again: a commit whose answer was lost may have happened.
   */
  public <T> T inTransactionRetrying(Function<Session, T> work, java.time.Duration patience) {
    long deadline = System.nanoTime() + patience.toNanos();
    long backoffMs = 250;
    while (true) {
      try {
        return sessionFactory.fromTransaction(work);
      } catch (RuntimeException e) {
        if (!unreachable(e) || System.nanoTime() + backoffMs * 1_000_000L > deadline) {
          throw e;
        }
        LOG.warn("database unreachable, trying again in {} ms: {}", backoffMs, e.toString());
        try {
          Thread.sleep(backoffMs);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
        backoffMs = Math.min(5_000, backoffMs * 2);
      }
    }
  }

  /** Whether a failure means the database could not be reached (rather than refused). */
  static boolean unreachable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof org.hibernate.exception.JDBCConnectionException
          || t instanceof java.sql.SQLTransientConnectionException
          || t instanceof java.sql.SQLNonTransientConnectionException
          || t instanceof java.net.ConnectException) {
        return true;
      }
      if (t instanceof java.sql.SQLException sql && sql.getSQLState() != null
          && (sql.getSQLState().startsWith("08") || sql.getSQLState().startsWith("57P0"))) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void close() {
    sessionFactory.close();
    dataSource.close();
  }
}
