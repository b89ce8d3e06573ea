package io.stratus.support.config;

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
 * Reads typed settings from a properties file overlaid with environment variables
 * ({@code PREFIX_KEY_WITH_UNDERSCORES} overrides file key {@code key.with.underscores}),
 * collecting every problem; {@link #validate()} then throws one {@link ConfigException}
 * that lists them all. Each component builds its immutable config record from this.
 */
public final class Settings {
  private final String component;
  private final String envPrefix;
  private final Map<String, String> values;
  private final List<String> problems = new ArrayList<>();

  private Settings(String component, String envPrefix, Map<String, String> values) {
    this.component = component;
    this.envPrefix = envPrefix;
    this.values = values;
  }

  /** Settings from an optional file and the environment entries starting with envPrefix. */
  public static Settings load(String component, String envPrefix, Path file,
      Map<String, String> env) {
    Map<String, String> merged = new LinkedHashMap<>();
    if (file != null) {
      Properties props = new Properties();
      try (Reader reader = Files.newBufferedReader(file)) {
        props.load(reader);
      } catch (IOException e) {
        throw new ConfigException(component, List.of("cannot read config file " + file + ": " + e));
      }
      props.stringPropertyNames().forEach(k -> merged.put(k, props.getProperty(k).trim()));
    }
    env.forEach((k, v) -> {
      if (k.startsWith(envPrefix)) {
        merged.put(k.substring(envPrefix.length()).toLowerCase(Locale.ROOT).replace('_', '.'),
            v.trim());
      }
    });
    return new Settings(component, envPrefix, merged);
  }

  /** Settings from key/value pairs (file keys), e.g. in tests. */
  public static Settings of(String component, String envPrefix, Map<String, String> values) {
    return new Settings(component, envPrefix, new LinkedHashMap<>(values));
  }

  /** Records a problem found by the caller's own checks. */
  public void problem(String message) {
    problems.add(message);
  }

  /** The raw value, or null. */
  public String raw(String key) {
    String v = values.get(key);
    return v == null || v.isEmpty() ? null : v;
  }

  public String string(String key, String fallback) {
    String v = raw(key);
    return v == null ? fallback : v;
  }

  /** A required string; records a problem naming the file key and env variable. */
  public String required(String key) {
    String v = raw(key);
    if (v == null) {
      problems.add(key + " is required (file key " + key + " or env " + envName(key) + ")");
    }
    return v;
  }

  public int integer(String key, int fallback, int min, int max) {
    return (int) longInteger(key, fallback, min, max);
  }

  /** A whole number between {@code min} and {@code max}, or {@code fallback} when unset. */
  public long longInteger(String key, long fallback, long min, long max) {
    String v = raw(key);
    if (v == null) {
      return fallback;
    }
    try {
      long n = Long.parseLong(v);
      if (n < min || n > max) {
        problems.add(key + " must be between " + min + " and " + max + ", got " + n);
        return fallback;
      }
      return n;
    } catch (NumberFormatException e) {
      problems.add(key + " must be a whole number, got '" + v + "'");
      return fallback;
    }
  }

  /** A positive duration: ISO-8601 ({@code PT10S}) or milliseconds ({@code 500ms}). */
  public Duration duration(String key, Duration fallback) {
    String v = raw(key);
    if (v == null) {
      return fallback;
    }
    try {
      Duration d = v.endsWith("ms")
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

  /** One of the allowed values (case-insensitive), returned lower-case. */
  public String oneOf(String key, String fallback, List<String> allowed) {
    String v = string(key, fallback).toLowerCase(Locale.ROOT);
    if (!allowed.contains(v)) {
      problems.add(key + " must be one of " + allowed + ", got '" + v + "'");
    }
    return v;
  }

  /** Throws one exception listing every problem recorded so far. */
  public void validate() {
    if (!problems.isEmpty()) {
      throw new ConfigException(component, problems);
    }
  }

  public String envName(String key) {
    return envPrefix + key.toUpperCase(Locale.ROOT).replace('.', '_');
  }
}
