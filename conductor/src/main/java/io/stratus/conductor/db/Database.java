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
      var result =
          Flyway.configure()
              .dataSource(dataSource)
              .locations("classpath:db/migration")
              .load()
              .migrate();
      LOG.info("schema at version {} ({} migrations applied)",
          result.targetSchemaVersion, result.migrationsExecuted);

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

  /** Runs {@code work} in one transaction and returns its result; rolls back on failure. */
  public <T> T inTransaction(Function<Session, T> work) {
    return sessionFactory.fromTransaction(work);
  }

  /** Runs {@code work} in one transaction; rolls back on failure. */
  public void run(Consumer<Session> work) {
    sessionFactory.inTransaction(work);
  }

  @Override
  public void close() {
    sessionFactory.close();
    dataSource.close();
  }
}
