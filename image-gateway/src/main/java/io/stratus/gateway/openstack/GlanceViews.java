package io.stratus.gateway.openstack;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.support.rest.RestExchange;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;

/**
 * Glance v2's JSON for an image, field for field (properties are top-level strings, as in
 * Glance; the gateway's own {@code stratus_*} bookkeeping properties are not shown), and
 * the schemas {@code glanceclient} reads.
 */
final class GlanceViews {
  private static final DateTimeFormatter TIME = DateTimeFormatter
      .ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);

  private GlanceViews() {}

  static ObjectNode image(ImageRecord i) {
    ObjectNode o = RestExchange.JSON.createObjectNode();
    for (Map.Entry<String, String> p : i.properties().entrySet()) {
      if (!p.getKey().startsWith(ImageRecord.GATEWAY_PREFIX)) {
        o.put(p.getKey(), p.getValue());
      }
    }
    boolean sized = i.status() == io.stratus.gateway.domain.ImageStatus.ACTIVE;
    o.put("id", i.id());
    o.put("name", i.name().isEmpty() ? null : i.name());
    o.put("status", i.status().glanceName());
    o.put("visibility", i.visibility());
    o.put("protected", i.isProtected());
    o.put("os_hidden", false);
    o.put("container_format", emptyToNull(i.containerFormat()));
    o.put("disk_format", emptyToNull(i.diskFormat()));
    o.put("min_disk", i.minDisk());
    o.put("min_ram", i.minRam());
    if (sized) {
      o.put("size", i.size());
      o.put("virtual_size", i.virtualSize() > 0 ? i.virtualSize() : null);
    } else {
      o.putNull("size");
      o.putNull("virtual_size");
    }
    o.put("checksum", emptyToNull(i.checksum()));
    boolean hashed = i.osHashValue() != null && !i.osHashValue().isEmpty();
    o.put("os_hash_algo", hashed ? ImageRecord.OS_HASH_ALGO : null);
    o.put("os_hash_value", hashed ? i.osHashValue() : null);
    o.put("owner", i.owner());
    o.putArray("tags");
    o.put("created_at", time(i.createdAt()));
    o.put("updated_at", time(i.updatedAt()));
    o.put("self", "/v2/images/" + i.id());
    o.put("file", "/v2/images/" + i.id() + "/file");
    o.put("schema", "/v2/schemas/image");
    return o;
  }

  private static String time(Instant t) {
    return t == null ? null : TIME.format(t);
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }

  /** {@code GET /v2/schemas/image}: Glance's schema, additional properties as strings. */
  static ObjectNode imageSchema() {
    ObjectNode s = RestExchange.JSON.createObjectNode();
    s.put("name", "image");
    ObjectNode p = s.putObject("properties");
    p.putObject("id").put("type", "string").put("description",
        "An identifier for the image").put("pattern",
        "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$");
    nullableString(p, "name", "Descriptive name for the image");
    p.putObject("status").put("type", "string").put("readOnly", true).putArray("enum")
        .add("queued").add("saving").add("active").add("killed").add("deleted")
        .add("uploading").add("importing").add("pending_delete").add("deactivated");
    p.putObject("visibility").put("type", "string").putArray("enum").add("community")
        .add("public").add("private").add("shared");
    p.putObject("protected").put("type", "boolean");
    p.putObject("os_hidden").put("type", "boolean");
    nullableString(p, "checksum", "md5 hash of image contents.");
    nullableString(p, "os_hash_algo", "Algorithm to calculate the os_hash_value");
    nullableString(p, "os_hash_value", "Hexdigest of the image contents");
    p.putObject("owner").putArray("type").add("null").add("string");
    p.putObject("size").putArray("type").add("null").add("integer");
    p.putObject("virtual_size").putArray("type").add("null").add("integer");
    p.putObject("container_format").putArray("type").add("null").add("string");
    p.putObject("disk_format").putArray("type").add("null").add("string");
    p.putObject("created_at").put("type", "string").put("readOnly", true);
    p.putObject("updated_at").put("type", "string").put("readOnly", true);
    p.putObject("tags").put("type", "array").putObject("items").put("type", "string");
    p.putObject("min_ram").put("type", "integer");
    p.putObject("min_disk").put("type", "integer");
    p.putObject("self").put("type", "string").put("readOnly", true);
    p.putObject("file").put("type", "string").put("readOnly", true);
    p.putObject("schema").put("type", "string").put("readOnly", true);
    p.putObject("locations").put("type", "array");
    s.putObject("additionalProperties").put("type", "string");
    s.putArray("links").addObject().put("rel", "self").put("href", "{self}");
    s.withArray("links").addObject().put("rel", "enclosure").put("href", "{file}");
    s.withArray("links").addObject().put("rel", "describedby").put("href", "{schema}");
    return s;
  }

  /** {@code GET /v2/schemas/images}: the list's schema. */
  static ObjectNode imagesSchema() {
    ObjectNode s = RestExchange.JSON.createObjectNode();
    s.put("name", "images");
    ObjectNode p = s.putObject("properties");
    p.putObject("images").put("type", "array").set("items", imageSchema());
    p.putObject("schema").put("type", "string");
    p.putObject("first").put("type", "string");
    p.putObject("next").put("type", "string");
    return s;
  }

  private static void nullableString(ObjectNode p, String name, String description) {
    ObjectNode f = p.putObject(name);
    f.putArray("type").add("null").add("string");
    f.put("description", description);
  }
}
