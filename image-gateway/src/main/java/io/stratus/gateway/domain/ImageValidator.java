package io.stratus.gateway.domain;

import io.stratus.support.errors.ApiException;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/** Glance's rules for image fields; every message names the field. */
public final class ImageValidator {
  public static final Set<String> DISK_FORMATS =
      Set.of("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop");
  public static final Set<String> CONTAINER_FORMATS =
      Set.of("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed");
  public static final Set<String> VISIBILITIES = Set.of("private", "shared", "community", "public");
  /** Record fields that may not be used as property names (Glance's reserved attributes). */
  public static final Set<String> RESERVED = Set.of("id", "name", "status", "disk_format",
      "container_format", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
      "owner", "visibility", "min_disk", "min_ram", "protected", "locations", "created_at",
      "updated_at", "deleted", "deleted_at", "direct_url", "self", "file", "schema", "tags");
  public static final int MAX_PROPERTIES = 128;

  private ImageValidator() {}

  /** Parses an image id (a UUID). */
  public static String id(String field, String value) {
    if (value == null || value.isEmpty()) {
      throw ApiException.invalidArgument(field, "is required");
    }
    try {
      UUID u = UUID.fromString(value);
      if (!u.toString().equalsIgnoreCase(value)) {
        throw new IllegalArgumentException();
      }
      return u.toString();
    } catch (IllegalArgumentException e) {
      throw ApiException.invalidArgument(field, "'" + shorten(value) + "' is not a UUID");
    }
  }

  /** Checks a creation request and fills the defaults. */
  public static NewImage newImage(NewImage n) {
    String id = n.id().isEmpty() ? UUID.randomUUID().toString() : id("id", n.id());
    String name = name(n.name());
    if (!n.diskFormat().isEmpty() && !DISK_FORMATS.contains(n.diskFormat())) {
      throw ApiException.invalidArgument("disk_format", "'" + shorten(n.diskFormat())
          + "' is not one of " + new java.util.TreeSet<>(DISK_FORMATS));
    }
    if (!n.containerFormat().isEmpty() && !CONTAINER_FORMATS.contains(n.containerFormat())) {
      throw ApiException.invalidArgument("container_format", "'" + shorten(n.containerFormat())
          + "' is not one of " + new java.util.TreeSet<>(CONTAINER_FORMATS));
    }
    String visibility = n.visibility().isEmpty() ? "private" : n.visibility();
    if (!VISIBILITIES.contains(visibility)) {
      throw ApiException.invalidArgument("visibility", "'" + shorten(visibility)
          + "' is not one of " + new java.util.TreeSet<>(VISIBILITIES));
    }
    if (n.minDisk() < 0) {
      throw ApiException.invalidArgument("min_disk", "must not be negative");
    }
    if (n.minRam() < 0) {
      throw ApiException.invalidArgument("min_ram", "must not be negative");
    }
    properties("properties", n.properties());
    return new NewImage(id, name, n.diskFormat(), n.containerFormat(), n.owner(), visibility,
        n.minDisk(), n.minRam(), n.properties());
  }

  /** Glance allows an empty name; at most 255 characters, no control characters. */
  public static String name(String raw) {
    String name = raw == null ? "" : raw.strip();
    if (name.codePointCount(0, name.length()) > 255) {
      throw ApiException.invalidArgument("name", "must be at most 255 characters");
    }
    if (name.codePoints().anyMatch(c -> Character.getType(c) == Character.CONTROL)) {
      throw ApiException.invalidArgument("name", "must not contain control characters");
    }
    return name;
  }

  /** Property names 1..255 characters, values at most 65535, not a reserved attribute. */
  public static void properties(String field, Map<String, String> properties) {
    if (properties.size() > MAX_PROPERTIES) {
      throw ApiException.resourceExhausted(field + ": has " + properties.size()
          + " entries, over the limit image_property_quota = " + MAX_PROPERTIES);
    }
    properties.forEach((k, v) -> {
      if (k.isEmpty() || k.length() > 255) {
        throw ApiException.invalidArgument(field, "key '" + shorten(k) + "' must be 1..255 characters");
      }
      if (RESERVED.contains(k)) {
        throw ApiException.invalidArgument(field + "." + k, "is a reserved attribute, not a property");
      }
      if (k.startsWith(ImageRecord.GATEWAY_PREFIX)) {
        throw ApiException.invalidArgument(field + "." + k, "properties named "
            + ImageRecord.GATEWAY_PREFIX + "* are set by the image-gateway only");
      }
      if (v.length() > 65535) {
        throw ApiException.invalidArgument(field + "." + k, "value must be at most 65535 characters");
      }
    });
  }

  private static String shorten(String s) {
    return s.length() > 40 ? s.substring(0, 40) + "…" : s;
  }
}
