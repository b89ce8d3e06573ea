package io.stratus.conductor.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Reads {@link ConductorConfig} from a properties file and environment overrides, and
 * validates it, collecting every problem into one {@link ConfigException}.
 *
 * <p>Keys (file) and their environment names: {@code listen.host} ({@code
 * STRATUS_CONDUCTOR_LISTEN_HOST}), {@code port}, {@code db.url}, {@code db.user}, {@code
 * db.password}, {@code db.pool.size}, {@code gateway.address}, {@code heartbeat.interval}
 * (ISO-8601 like {@code PT10S} or milliseconds like {@code 10000ms}), {@code
 * heartbeat.missed}, {@code agent.call.timeout}, {@code image.max.properties}, {@code
 * api.tokens} ({@code token=project:user:role,…}, role member or admin). The environment
 * wins over the file.
 */
public final class ConfigLoader {
  private static final String ENV_PREFIX = "STRATUS_CONDUCTOR_";

  private final Map<String, String> values;
  private final List<String> problems = new ArrayList<>();

  private ConfigLoader(Map<String, String> values) {
    this.values = values;
  }

  /** Loads from an optional file and the given environment. */
  public static ConductorConfig load(Path file, Map<String, String> env) {
    Map<String, String> merged = new LinkedHashMap<>();
    if (file != null) {
      Properties props = new Properties();
      try (Reader reader = Files.newBufferedReader(file)) {
        props.load(reader);
      } catch (IOException e) {
        throw new ConfigException(List.of("cannot read config file " + file + ": " + e));
      }
      props.stringPropertyNames().forEach(k -> merged.put(k, props.getProperty(k).trim()));
    }
    env.forEach(
        (k, v) -> {
          if (k.startsWith(ENV_PREFIX)) {
            String key = k.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '.');
            merged.put(key, v.trim());
          }
        });
    return fromMap(merged);
  }

  /** Builds and validates a config from key/value pairs (file keys). */
  public static ConductorConfig fromMap(Map<String, String> values) {
    return new ConfigLoader(values).build();
  }

  private ConductorConfig build() {
    String listenHost = string("listen.host", ConductorConfig.DEFAULT_LISTEN_HOST);
    int port = integer("port", ConductorConfig.DEFAULT_PORT, 0, 65535);
    String dbUrl = required("db.url");
    if (dbUrl != null && !dbUrl.startsWith("jdbc:postgresql:")) {
      problems.add("db.url must be a jdbc:postgresql: URL, got " + dbUrl);
    }
    String dbUser = required("db.user");
    String dbPassword = string("db.password", "");
    int pool = integer("db.pool.size", ConductorConfig.DEFAULT_DB_POOL_SIZE, 1, 200);
    String gateway = required("gateway.address");
    Duration heartbeat = duration("heartbeat.interval", ConductorConfig.DEFAULT_HEARTBEAT_INTERVAL);
    int missed = integer("heartbeat.missed", ConductorConfig.DEFAULT_MISSED_HEARTBEATS, 1, 100);
    Duration callTimeout =
        duration("agent.call.timeout", ConductorConfig.DEFAULT_AGENT_CALL_TIMEOUT);
    int maxProps =
        integer("image.max.properties", ConductorConfig.DEFAULT_MAX_IMAGE_PROPERTIES, 0, 10_000);
    Map<String, ApiToken> tokens = tokens(string("api.tokens", ""));
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
    return new ConductorConfig(
        listenHost, port, dbUrl, dbUser, dbPassword, pool, gateway, heartbeat, missed,
        callTimeout, maxProps, tokens);
  }

  private String string(String key, String fallback) {
    String v = values.get(key);
    return v == null || v.isEmpty() ? fallback : v;
  }

  private String required(String key) {
    String v = values.get(key);
    if (v == null || v.isEmpty()) {
      problems.add(key + " is required (file key " + key + " or env " + envName(key) + ")");
      return null;
    }
    return v;
  }

  private int integer(String key, int fallback, int min, int max) {
    String v = values.get(key);
    if (v == null || v.isEmpty()) {
      return fallback;
    }
    try {
      int n = Integer.parseInt(v);
      if (n < min || n > max) {
        problems.add(key + " must be between " + min + " and " + max + ", got " + n);
      }
      return n;
    } catch (NumberFormatException e) {
      problems.add(key + " must be a whole number, got '" + v + "'");
      return fallback;
    }
  }

  private Duration duration(String key, Duration fallback) {
    String v = values.get(key);
    if (v == null || v.isEmpty()) {
      return fallback;
    }
    try {
      Duration d =
          v.endsWith("ms")
              ? Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)))
              : Duration.parse(v);
      if (d.isNegative() || d.isZero()) {
        problems.add(key + " must be positive, got " + v);
      }
      return d;
    } catch (DateTimeParseException | NumberFormatException e) {
      problems.add(key + " must be a duration like PT10S or 500ms, got '" + v + "'");
      return fallback;
    }
  }

  private Map<String, ApiToken> tokens(String spec) {
    Map<String, ApiToken> tokens = new LinkedHashMap<>();
    if (spec.isEmpty()) {
      return tokens;
    }
    for (String entry : spec.split(",")) {
      String e = entry.trim();
      int eq = e.indexOf('=');
      String[] who = eq < 0 ? new String[0] : e.substring(eq + 1).split(":");
      if (eq <= 0 || who.length != 3 || who[0].isEmpty() || who[1].isEmpty()) {
        problems.add("api.tokens entry must be token=project:user:role, got '" + redact(e) + "'");
        continue;
      }
      ApiToken.Role role;
      try {
        role = ApiToken.Role.valueOf(who[2].toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException ex) {
        problems.add("api.tokens role must be member or admin, got '" + who[2] + "'");
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

  private static String envName(String key) {
    return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('.', '_');
  }
}
