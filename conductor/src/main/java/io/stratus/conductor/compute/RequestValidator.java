package io.stratus.conductor.compute;

import io.stratus.support.errors.ApiException;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/** Checks client input and names the field at fault (INVALID_ARGUMENT). */
public final class RequestValidator {
  /** Longest name of a server or image. */
  public static final int MAX_NAME = 255;

  /** Longest metadata key and value. */
  public static final int MAX_KEY = 255;

  public static final int MAX_VALUE = 65535;

  /** Properties the conductor sets on every snapshot image; clients may not set them. */
  public static final Set<String> RESERVED_IMAGE_PROPERTIES =
      Set.of("image_type", "instance_uuid", "base_image_ref", "user_id", "owner",
          "image_location", "image_state");

  private final int maxProperties;

  public RequestValidator(int maxProperties) {
    this.maxProperties = maxProperties;
  }

  /** Parses a server id. */
  public static UUID uuid(String field, String value) {
    if (value == null || value.isEmpty()) {
      throw ApiException.invalidArgument(field, "is required");
    }
    try {
      UUID u = UUID.fromString(value);
      if (!u.toString().equalsIgnoreCase(value)) {
        throw new IllegalArgumentException();
      }
      return u;
    } catch (IllegalArgumentException e) {
      throw ApiException.invalidArgument(field, "'" + shorten(value) + "' is not a UUID");
    }
  }

  /** Nova's name rules: trimmed, 1..255 characters, no control characters. */
  public static String name(String field, String raw) {
    String n = raw == null ? "" : raw.strip();
    if (n.isEmpty()) {
      throw ApiException.invalidArgument(field, "must not be empty");
    }
    if (n.codePointCount(0, n.length()) > MAX_NAME) {
      throw ApiException.invalidArgument(field, "must be at most " + MAX_NAME + " characters");
    }
    if (n.codePoints().anyMatch(c -> Character.getType(c) == Character.CONTROL)) {
      throw ApiException.invalidArgument(field, "must not contain control characters");
    }
    return n;
  }

  /**
   * A filter on names ({@code name_prefix}, a host name): empty means no filter; otherwise
   * at most 255 characters without control characters (PostgreSQL refuses a NUL in text,
   * which must not surface as INTERNAL).
   */
  public static String filter(String field, String raw) {
    if (raw == null || raw.isEmpty()) {
      return null;
    }
    if (raw.codePointCount(0, raw.length()) > MAX_NAME) {
      throw ApiException.invalidArgument(field, "must be at most " + MAX_NAME + " characters");
    }
    if (raw.codePoints().anyMatch(c -> Character.getType(c) == Character.CONTROL)) {
      throw ApiException.invalidArgument(field, "must not contain control characters");
    }
    return raw;
  }

  /** How many properties the conductor itself sets on every snapshot image. */
  public static final int SNAPSHOT_PROPERTIES = 4;

  /**
   * Metadata: together with the {@value #SNAPSHOT_PROPERTIES} properties every snapshot
   * carries, at most the property quota (the image store counts them all, like Glance's
   * image_property_quota); key 1..255, value ≤ 65535, no reserved keys.
   */
  public Map<String, String> imageMetadata(String field, Map<String, String> metadata) {
    if (metadata.size() + SNAPSHOT_PROPERTIES > maxProperties) {
      throw ApiException.resourceExhausted(field + ": has " + metadata.size()
          + " properties; with the " + SNAPSHOT_PROPERTIES + " every snapshot carries that"
          + " exceeds the limit image.max.properties = " + maxProperties);
    }
    for (var e : metadata.entrySet()) {
      checkEntry(field, e.getKey(), e.getValue());
      if (RESERVED_IMAGE_PROPERTIES.contains(e.getKey())) {
        throw ApiException.invalidArgument(field + "." + e.getKey(),
            "is set by the conductor and cannot be given");
      }
    }
    return Map.copyOf(metadata);
  }

  /** Server metadata: the same limits, no reserved keys. */
  public Map<String, String> serverMetadata(String field, Map<String, String> metadata) {
    if (metadata.size() > maxProperties) {
      throw ApiException.resourceExhausted(field + ": has " + metadata.size()
          + " items, over the limit image.max.properties = " + maxProperties);
    }
    metadata.forEach((k, v) -> checkEntry(field, k, v));
    return Map.copyOf(metadata);
  }

  private static void checkEntry(String field, String key, String value) {
    if (key.isEmpty() || key.length() > MAX_KEY) {
      throw ApiException.invalidArgument(field, "key '" + shorten(key)
          + "' must be 1.." + MAX_KEY + " characters");
    }
    if (value.length() > MAX_VALUE) {
      throw ApiException.invalidArgument(field + "." + key,
          "value must be at most " + MAX_VALUE + " characters");
    }
  }

  /** An int within bounds. */
  public static int range(String field, int value, int min, int max) {
    if (value < min || value > max) {
      throw ApiException.invalidArgument(field, "must be between " + min + " and " + max
          + ", got " + value);
    }
    return value;
  }

  private static String shorten(String s) {
    return s.length() > 40 ? s.substring(0, 40) + "…" : s;
  }
}
