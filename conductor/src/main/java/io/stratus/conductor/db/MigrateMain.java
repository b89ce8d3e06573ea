package io.stratus.conductor.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.stratus.support.config.ConfigException;
import io.stratus.support.config.Settings;
import java.util.Map;

/**
 * Migrates the conductor's schema and exits: {@code java -cp stratus-conductor.jar
 * io.stratus.conductor.db.MigrateMain}, run once per upgrade before the new conductors
 * start (the Kubernetes Job in {@code deploy/k8s}). It reads only the database settings,
 * {@code STRATUS_CONDUCTOR_DB_URL}, {@code _DB_USER} and {@code _DB_PASSWORD}; exit status 0
 * when the schema is current, 2 for a wrong setting, 1 when the migration failed.
 */
public final class MigrateMain {
  private MigrateMain() {}

  public static void main(String[] args) {
    int status = run(System.getenv());
    System.exit(status);
  }

  /** Migrates the database the environment names; returns the exit status. */
  public static int run(Map<String, String> env) {
    String url;
    String user;
    String password;
    try {
      Settings s = Settings.load("conductor migration", "STRATUS_CONDUCTOR_", null, env);
      url = s.required("db.url");
      user = s.required("db.user");
      password = s.string("db.password", "");
      s.validate();
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return 2;
    }
    HikariConfig pool = new HikariConfig();
    pool.setJdbcUrl(url);
    pool.setUsername(user);
    pool.setPassword(password);
    pool.setMaximumPoolSize(2);
    pool.setPoolName("conductor-migrate");
    try (HikariDataSource dataSource = new HikariDataSource(pool)) {
      String version = Database.migrate(dataSource);
      System.out.println("conductor schema at version " + version);
      return 0;
    } catch (RuntimeException e) {
      System.err.println("migration failed: " + e.getMessage());
      return 1;
    }
  }
}
