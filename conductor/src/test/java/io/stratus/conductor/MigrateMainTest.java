package io.stratus.conductor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.conductor.db.MigrateMain;
import io.stratus.testkit.PostgresExtension;
import java.sql.DriverManager;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The migration entry point (the Kubernetes Job's, before new conductors start) brings an
 * empty database to the current schema, is harmless when run again, and refuses a missing
 * setting with exit status 2.
 */
class MigrateMainTest {
  @RegisterExtension static final PostgresExtension PG = new PostgresExtension();

  @Test
  void migratesAnEmptyDatabaseOnceAndThenFindsItCurrent() throws Exception {
    Map<String, String> env = Map.of("STRATUS_CONDUCTOR_DB_URL", PG.jdbcUrl(),
        "STRATUS_CONDUCTOR_DB_USER", PG.user());
    assertEquals(0, MigrateMain.run(env));
    int applied;
    try (var c = DriverManager.getConnection(PG.jdbcUrl(), PG.user(), "");
        var rs = c.createStatement().executeQuery(
            "SELECT count(*) FROM flyway_schema_history WHERE success")) {
      assertTrue(rs.next());
      applied = rs.getInt(1);
    }
    long migrations;
    try (var files = java.nio.file.Files.list(
        java.nio.file.Path.of("src/main/resources/db/migration"))) {
      migrations = files.filter(f -> f.getFileName().toString().matches("V\\d+__.*\\.sql")).count();
    }
    assertTrue(migrations > 0);
    assertEquals(migrations, applied, "every migration ran");
    try (var c = DriverManager.getConnection(PG.jdbcUrl(), PG.user(), "");
        var rs = c.createStatement().executeQuery("SELECT count(*) FROM instances")) {
      assertTrue(rs.next());
    }
    assertEquals(0, MigrateMain.run(env), "a second run finds the schema current");
    try (var c = DriverManager.getConnection(PG.jdbcUrl(), PG.user(), "");
        var rs = c.createStatement().executeQuery(
            "SELECT count(*) FROM flyway_schema_history WHERE success")) {
      assertTrue(rs.next());
      assertEquals(applied, rs.getInt(1));
    }
  }

  @Test
  void aMissingSettingIsExitStatusTwo() {
    assertEquals(2, MigrateMain.run(Map.of("STRATUS_CONDUCTOR_DB_USER", "stratus")));
  }
}
