package io.stratus.conductor.config;

import io.stratus.support.config.Settings;
import io.stratus.support.tls.TlsSettings;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Reads {@link ConductorConfig} from a properties file and environment overrides, and
 * validates it, collecting every problem into one {@link
 * io.stratus.support.config.ConfigException}.
 *
 * <p>Keys (file) and their environment names: {@code listen.host} ({@code
 * STRATUS_CONDUCTOR_LISTEN_HOST}), {@code port}, {@code db.url}, {@code db.user}, {@code
 * db.password}, {@code db.pool.size}, {@code gateway.address}, {@code heartbeat.interval}
 * (ISO-8601 like {@code PT10S} or milliseconds like {@code 10000ms}), {@code
 * heartbeat.missed}, {@code agent.call.timeout}, {@code agent.reattach.window}, {@code
 * power.sync.interval}, {@code gc.unfinished.after}, {@code image.max.properties}, {@code
 * api.tokens} ({@code token=project:user:role,…}, role member or admin). The environment
 * wins over the file.
 */
public final class ConfigLoader {
  private static final String COMPONENT = "conductor";
  private static final String ENV_PREFIX = "STRATUS_CONDUCTOR_";

  private ConfigLoader() {}

  /** Loads from an optional file and the given environment. */
  public static ConductorConfig load(Path file, Map<String, String> env) {
    return build(Settings.load(COMPONENT, ENV_PREFIX, file, env));
  }

  /** Builds and validates a config from key/value pairs (file keys). */
  public static ConductorConfig fromMap(Map<String, String> values) {
    return build(Settings.of(COMPONENT, ENV_PREFIX, values));
  }

  private static ConductorConfig build(Settings s) {
    String listenHost = s.string("listen.host", ConductorConfig.DEFAULT_LISTEN_HOST);
    int port = s.integer("port", ConductorConfig.DEFAULT_PORT, 0, 65535);
    String dbUrl = s.required("db.url");
    if (dbUrl != null && !dbUrl.startsWith("jdbc:postgresql:")) {
      s.problem("db.url must be a jdbc:postgresql: URL, got " + dbUrl);
    }
    String dbUser = s.required("db.user");
    String dbPassword = s.string("db.password", "");
    int pool = s.integer("db.pool.size", ConductorConfig.DEFAULT_DB_POOL_SIZE, 1, 200);
    String gateway = s.required("gateway.address");
    var heartbeat = s.duration("heartbeat.interval", ConductorConfig.DEFAULT_HEARTBEAT_INTERVAL);
    int missed = s.integer("heartbeat.missed", ConductorConfig.DEFAULT_MISSED_HEARTBEATS, 1, 100);
    var callTimeout = s.duration("agent.call.timeout", ConductorConfig.DEFAULT_AGENT_CALL_TIMEOUT);
    int maxProps = s.integer("image.max.properties",
        ConductorConfig.DEFAULT_MAX_IMAGE_PROPERTIES, 0, 10_000);
    Map<String, ApiToken> tokens = tokens(s, s.string("api.tokens", ""));
    String volumesPool = s.string("volumes.pool", "rbd");
    String role = s.oneOf("policy.create_image.allow_volume_backed", "member",
        java.util.List.of("member", "admin"));
    TlsSettings tls = TlsSettings.read(s);
    int watches = s.integer("api.watch.max.per.project", 64, 1, 100_000);
    var reattach = s.duration("agent.reattach.window", java.time.Duration.ofMinutes(2));
    var powerSync = s.duration("power.sync.interval", java.time.Duration.ofMinutes(10));
    var gcAfter = s.duration("gc.unfinished.after", java.time.Duration.ofMinutes(15));
    var health = io.stratus.support.config.OptionalEndpoint.read(s, "health", listenHost);
    var metrics = io.stratus.support.config.OptionalEndpoint.read(s, "metrics", listenHost);
    var openstack = OpenStackSettings.read(s, listenHost);
    var softReboot = s.duration("reboot.soft.timeout", java.time.Duration.ofSeconds(120));
    if (softReboot.isNegative() || softReboot.toSeconds() > 3600) {
      s.problem("reboot.soft.timeout must be between 0 and 1 hour, got " + softReboot);
    }
    s.validate();
    return new ConductorConfig(
        listenHost, port, dbUrl, dbUser, dbPassword, pool, gateway, heartbeat, missed,
        callTimeout, maxProps, tokens, volumesPool,
        ApiToken.Role.valueOf(role.toUpperCase(Locale.ROOT)), tls, watches, reattach, powerSync,
        gcAfter, health, metrics, openstack, softReboot);
  }

  private static Map<String, ApiToken> tokens(Settings s, String spec) {
    Map<String, ApiToken> tokens = new LinkedHashMap<>();
    if (spec.isEmpty()) {
      return tokens;
    }
    for (String entry : spec.split(",")) {
      String e = entry.trim();
      int eq = e.indexOf('=');
      String[] who = eq < 0 ? new String[0] : e.substring(eq + 1).split(":");
      if (eq <= 0 || who.length != 3 || who[0].isEmpty() || who[1].isEmpty()) {
        s.problem("api.tokens entry must be token=project:user:role, got '" + redact(e) + "'");
        continue;
      }
      ApiToken.Role role;
      try {
        role = ApiToken.Role.valueOf(who[2].toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException ex) {
        s.problem("api.tokens role must be member or admin, got '" + who[2] + "'");
        continue;
      }
      tokens.put(e.substring(0, eq), new ApiToken(who[0], who[1], role));
    }
    return tokens;
  }

  private static String redact(String entry) {
    int eq = entry.indexOf('=');
    return eq < 0 ? "…" : "…" + entry.substring(eq);
  }
}
