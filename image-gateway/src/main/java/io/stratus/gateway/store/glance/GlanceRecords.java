package io.stratus.gateway.store.glance;

import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.ImageStatus;
import io.stratus.gateway.domain.NewImage;
import io.stratus.support.errors.ApiException;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Maps between our image records and Glance's v2 image documents.
 *
 * <p>Extra properties are top-level string attributes in Glance; everything that is not a
 * Glance base attribute, not {@code os_glance_*} and not one of ours is a property.
 *
 * <p><b>Owner.</b> Our owner (the project) is kept in the property {@value #OWNER} and
 * read back from there, never written to Glance's {@code owner}: in noauth mode Glance
 * has no projects, and under Keystone only an admin may set another project's owner. An
 * image made outside the gateway (no {@value #OWNER}) reads Glance's {@code owner}.
 *
 * <p><b>Status.</b> Glance's statuses map as: queued → QUEUED; saving, uploading,
 * importing → SAVING (bytes are arriving, the image can take no upload and cannot be
 * read); active, deactivated → ACTIVE (the content exists and is immutable; Glance refuses
 * to serve a deactivated image's data to non-admins, which a download then reports);
 * killed → KILLED; deleted → DELETED; pending_delete → PENDING_DELETE. A queued image
 * carrying {@value #STATUS}={@value #KILLED} reads KILLED: that is how this store marks an
 * image killed before any bytes were kept (Glance has no way to set "killed").
 */
final class GlanceRecords {
  /** Property holding our owner. */
  static final String OWNER = "stratus_owner";
  /** Property holding our status where Glance's cannot express it. */
  static final String STATUS = "stratus_status";
  static final String KILLED = "killed";

  /** Glance's own attributes of an image document (Zed, multi-store). */
  static final Set<String> BASE = Set.of("id", "name", "status", "visibility", "protected",
      "os_hidden", "checksum", "os_hash_algo", "os_hash_value", "owner", "size",
      "virtual_size", "container_format", "disk_format", "created_at", "updated_at", "tags",
      "direct_url", "min_ram", "min_disk", "self", "file", "schema", "locations", "stores");
  /** Glance reserves properties with this prefix for itself. */
  static final String GLANCE_PREFIX = "os_glance_";

  private GlanceRecords() {}

  /** The body of {@code POST /v2/images}. */
  static Map<String, Object> createDocument(NewImage n) {
    checkPropertyNames("properties", n.properties().keySet());
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("id", n.id());
    doc.put("name", n.name());
    doc.put("disk_format", n.diskFormat().isEmpty() ? null : n.diskFormat());
    doc.put("container_format", n.containerFormat().isEmpty() ? null : n.containerFormat());
    doc.put("visibility", n.visibility());
    doc.put("min_disk", n.minDisk());
    doc.put("min_ram", n.minRam());
    doc.putAll(new TreeMap<>(n.properties()));
    if (!n.owner().isEmpty()) {
      doc.put(OWNER, n.owner());
    }
    return doc;
  }

  /**
   * Refuses property names Glance or this store keeps for themselves (Glance would answer
   * 403 for most; ours would silently break the mapping).
   */
  static void checkPropertyNames(String field, Collection<String> keys) {
    for (String k : keys) {
      if (BASE.contains(k) || k.startsWith(GLANCE_PREFIX) || k.equals(OWNER) || k.equals(STATUS)) {
        throw ApiException.invalidArgument(field + "." + k,
            "is reserved by the Glance image store, not a property");
      }
    }
  }

  /**
   * The JSON-patch operations that rename and set/remove properties of {@code current}.
   * Glance 2.1 patch: {@code add} creates or replaces; {@code remove} of an absent
   * property is a conflict, so only present ones are removed (absent ones are no-ops, as
   * in every store).
   */
  static List<Map<String, Object>> patch(ImageRecord current, String newName,
      Map<String, String> set, Set<String> remove) {
    checkPropertyNames("set_properties", set.keySet());
    List<Map<String, Object>> ops = new ArrayList<>();
    if (newName != null && !newName.equals(current.name())) {
      ops.add(op("replace", "name", newName));
    }
    new TreeMap<>(set).forEach((k, v) -> {
      if (!remove.contains(k) && !v.equals(current.properties().get(k))) {
        ops.add(op("add", k, v));
      }
    });
    remove.stream().sorted().filter(current.properties()::containsKey)
        .forEach(k -> ops.add(op("remove", k, null)));
    return ops;
  }

  /** The operation that marks a queued image killed. */
  static List<Map<String, Object>> markKilled() {
    return List.of(op("add", STATUS, KILLED));
  }

  private static Map<String, Object> op(String verb, String attribute, String value) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("op", verb);
    m.put("path", "/" + attribute.replace("~", "~0").replace("/", "~1"));
    if (value != null) {
      m.put("value", value);
    }
    return m;
  }

  /** Our status for a Glance image document. */
  static ImageStatus status(Map<String, Object> doc) {
    String glance = string(doc, "status");
    return switch (glance) {
      case "queued" -> KILLED.equals(doc.get(STATUS)) ? ImageStatus.KILLED : ImageStatus.QUEUED;
      case "saving", "uploading", "importing" -> ImageStatus.SAVING;
      case "active", "deactivated" -> ImageStatus.ACTIVE;
      case "killed" -> ImageStatus.KILLED;
      case "deleted" -> ImageStatus.DELETED;
      case "pending_delete" -> ImageStatus.PENDING_DELETE;
      default -> throw ApiException.unavailable("Glance reported image " + string(doc, "id")
          + " in status '" + glance + "', which this gateway does not know", null);
    };
  }

  /** Our record of a Glance image document. */
  static ImageRecord toRecord(Map<String, Object> doc, Clock clock) {
    long size = number(doc, "size");
    Object virtual = doc.get("virtual_size");
    String owner = string(doc, OWNER).isEmpty() ? string(doc, "owner") : string(doc, OWNER);
    boolean sha512 = ImageRecord.OS_HASH_ALGO.equals(doc.get("os_hash_algo"));
    return new ImageRecord(
        string(doc, "id"),
        string(doc, "name"),
        status(doc),
        string(doc, "disk_format"),
        string(doc, "container_format"),
        size,
        virtual == null ? size : number(doc, "virtual_size"),
        string(doc, "checksum"),
        sha512 ? string(doc, "os_hash_value") : "",
        owner,
        string(doc, "visibility"),
        Math.toIntExact(number(doc, "min_disk")),
        Math.toIntExact(number(doc, "min_ram")),
        Boolean.TRUE.equals(doc.get("protected")),
        properties(doc),
        locations(doc),
        instant(doc, "created_at", clock),
        instant(doc, "updated_at", clock));
  }

  private static Map<String, String> properties(Map<String, Object> doc) {
    Map<String, String> props = new LinkedHashMap<>();
    doc.forEach((k, v) -> {
      if (!BASE.contains(k) && !k.startsWith(GLANCE_PREFIX) && !k.equals(OWNER)
          && !k.equals(STATUS) && v != null) {
        props.put(k, v instanceof String s ? s : Json.write(v));
      }
    });
    return props;
  }

  /** {@code locations[].url} when Glance shows them, else {@code direct_url}, else none. */
  private static List<String> locations(Map<String, Object> doc) {
    List<String> out = new ArrayList<>();
    if (doc.get("locations") instanceof List<?> list) {
      for (Object l : list) {
        if (l instanceof Map<?, ?> m && m.get("url") instanceof String url) {
          out.add(url);
        }
      }
    }
    if (out.isEmpty() && doc.get("direct_url") instanceof String url) {
      out.add(url);
    }
    return out;
  }

  static String string(Map<String, Object> doc, String key) {
    Object v = doc.get(key);
    return v == null ? "" : v instanceof String s ? s : String.valueOf(v);
  }

  private static long number(Map<String, Object> doc, String key) {
    Object v = doc.get(key);
    if (v == null) {
      return 0;
    }
    if (v instanceof Long l) {
      return l;
    }
    throw ApiException.unavailable("Glance sent " + key + "=" + v + " for image "
        + string(doc, "id") + ", not an integer", null);
  }

  private static Instant instant(Map<String, Object> doc, String key, Clock clock) {
    String v = string(doc, key);
    if (v.isEmpty()) {
      return clock.instant();
    }
    try {
      return Instant.parse(v);
    } catch (DateTimeParseException e) {
      throw ApiException.unavailable("Glance sent " + key + "='" + v + "' for image "
          + string(doc, "id") + ", not an ISO-8601 instant", e);
    }
  }
}
