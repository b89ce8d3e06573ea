package io.stratus.conductor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.conductor.config.ApiToken;
import io.stratus.conductor.config.ConductorConfig;
import io.stratus.support.config.ConfigException;
import io.stratus.conductor.config.ConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The conductor's configuration: defaults, file + environment, every problem reported. */
class ConfigLoaderTest {

  @Test
  void fileValuesAreOverriddenByTheEnvironmentAndDefaultsFillTheRest(@TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("conductor.properties");
    Files.writeString(file, """
        db.url=jdbc:postgresql://127.0.0.1:5432/file
        db.user=file-user
        gateway.address=127.0.0.1:9292
        heartbeat.interval=PT5S
        api.tokens=t1=p1:u1:member,t2=p2:u2:admin
        tls.insecure=true
        """);
    ConductorConfig c = ConfigLoader.load(file, Map.of(
        "STRATUS_CONDUCTOR_DB_URL", "jdbc:postgresql://127.0.0.1:5433/env",
        "STRATUS_CONDUCTOR_HEARTBEAT_MISSED", "5",
        "UNRELATED", "x"));
    assertEquals("jdbc:postgresql://127.0.0.1:5433/env", c.dbUrl());
    assertEquals("file-user", c.dbUser());
    assertEquals(Duration.ofSeconds(5), c.heartbeatInterval());
    assertEquals(5, c.missedHeartbeats());
    assertEquals(Duration.ofSeconds(25), c.hostDownAfter());
    assertEquals(ConductorConfig.DEFAULT_PORT, c.port());
    assertEquals(ConductorConfig.DEFAULT_MAX_IMAGE_PROPERTIES, c.maxImageProperties());
    assertEquals(new ApiToken("p2", "u2", ApiToken.Role.ADMIN), c.apiTokens().get("t2"));
  }

  @Test
  void everyProblemIsListedAtOnce() {
    ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromMap(Map.of(
        "db.url", "mysql://nope",
        "port", "70000",
        "heartbeat.interval", "soon",
        "db.pool.size", "many",
        "api.tokens", "secret=p:u:root,broken")));
    assertEquals(List.of(
        "port must be between 0 and 65535, got 70000",
        "db.url must be a jdbc:postgresql: URL, got mysql://nope",
        "db.user is required (file key db.user or env STRATUS_CONDUCTOR_DB_USER)",
        "db.pool.size must be a whole number, got 'many'",
        "gateway.address is required (file key gateway.address or env STRATUS_CONDUCTOR_GATEWAY_ADDRESS)",
        "heartbeat.interval must be a duration like PT10S or 500ms, got 'soon'",
        "api.tokens role must be member or admin, got 'root'",
        "api.tokens entry must be token=project:user:role, got '…'",
        "tls.ca (env STRATUS_CONDUCTOR_TLS_CA): required unless tls.insecure=true "
            + "(deploy/scripts/dev-ca.sh makes a development CA and certificates)",
        "tls.cert (env STRATUS_CONDUCTOR_TLS_CERT): required unless tls.insecure=true "
            + "(deploy/scripts/dev-ca.sh makes a development CA and certificates)",
        "tls.key (env STRATUS_CONDUCTOR_TLS_KEY): required unless tls.insecure=true "
            + "(deploy/scripts/dev-ca.sh makes a development CA and certificates)"),
        e.problems());
  }

  @Test
  void secretsNeverAppearInToString() {
    ConductorConfig c = ConfigLoader.fromMap(Map.of(
        "db.url", "jdbc:postgresql://h/db", "db.user", "u", "db.password", "hunter2",
        "gateway.address", "g:1", "api.tokens", "tok-secret=p:u:member",
        "tls.insecure", "true"));
    String s = c.toString();
    assertEquals(-1, s.indexOf("hunter2"));
    assertEquals(-1, s.indexOf("tok-secret"));
  }

  @Test
  void volumeSettingsDefaultToCindersAndNovasAndAreChecked() {
    Map<String, String> base = Map.of("db.url", "jdbc:postgresql://h/db", "db.user", "u",
        "gateway.address", "g:1", "tls.insecure", "true");
    ConductorConfig c = ConfigLoader.fromMap(base);
    assertEquals("rbd", c.volumesPool());
    assertEquals(io.stratus.conductor.config.ApiToken.Role.MEMBER, c.volumeBackedSnapshotRole());
    var withBad = new java.util.HashMap<>(base);
    withBad.put("policy.create_image.allow_volume_backed", "owner");
    ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromMap(withBad));
    assertTrue(e.getMessage().contains("policy.create_image.allow_volume_backed"), e.getMessage());
  }

  @Test
  void tlsFilesMustBeReadableAndPlaintextMustBeAskedFor(@TempDir Path dir) throws Exception {
    Map<String, String> base = Map.of("db.url", "jdbc:postgresql://h/db", "db.user", "u",
        "gateway.address", "g:1");
    Path ca = Files.writeString(dir.resolve("ca.pem"), "x");
    Path cert = Files.writeString(dir.resolve("c.pem"), "x");
    var withFiles = new java.util.HashMap<>(base);
    withFiles.putAll(Map.of("tls.ca", ca.toString(), "tls.cert", cert.toString(),
        "tls.key", dir.resolve("missing.key").toString()));
    ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromMap(withFiles));
    assertEquals(List.of("tls.key (env STRATUS_CONDUCTOR_TLS_KEY): cannot read "
        + dir.resolve("missing.key")), e.problems());
    withFiles.put("tls.key", cert.toString());
    ConductorConfig c = ConfigLoader.fromMap(withFiles);
    assertEquals(false, c.tls().insecure());
    assertEquals(ca, c.tls().ca());
    var plaintext = new java.util.HashMap<>(base);
    plaintext.put("tls.insecure", "yes");
    ConfigException bad = assertThrows(ConfigException.class, () -> ConfigLoader.fromMap(plaintext));
    assertTrue(bad.getMessage().contains("tls.insecure"), bad.getMessage());
  }
}
