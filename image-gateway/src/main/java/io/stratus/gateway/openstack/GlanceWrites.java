package io.stratus.gateway.openstack;

import com.fasterxml.jackson.databind.JsonNode;
import io.stratus.gateway.domain.ImageAccess;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.NewImage;
import io.stratus.gateway.identity.ImageCaller;
import io.stratus.support.errors.ApiException;
import io.stratus.support.rest.RestError;
import io.stratus.support.rest.RestExchange;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Glance's {@code POST /v2/images} (a queued image; its data comes later) and {@code PATCH
 * /v2/images/{id}} (JSON patch in both media types Glance accepts: {@code
 * application/openstack-images-v2.1-json-patch}, {@code {"op": "add", "path": "/k",
 * "value": "v"}}, and the older {@code application/openstack-images-v2.0-json-patch},
 * {@code {"add": "/k", "value": "v"}}), onto {@link ImageAccess}.
 */
final class GlanceWrites {
  static final String PATCH_V21 = "application/openstack-images-v2.1-json-patch";
  static final String PATCH_V20 = "application/openstack-images-v2.0-json-patch";
  /** Attributes a client may not set or change (Glance answers 403). */
  private static final Set<String> READ_ONLY = Set.of("id", "status", "size", "virtual_size",
      "checksum", "os_hash_algo", "os_hash_value", "owner", "created_at", "updated_at",
      "self", "file", "schema", "locations", "direct_url", "tags", "os_hidden");
  /** Core attributes a new image takes; every other string is a property. */
  private static final Set<String> CORE = Set.of("id", "name", "disk_format",
      "container_format", "visibility", "protected", "min_disk", "min_ram", "tags",
      "os_hidden");

  private GlanceWrites() {}

  /** The new image from a create body. */
  static ImageRecord create(ImageAccess access, ImageCaller caller, JsonNode body) {
    if (!body.isObject()) {
      throw ApiException.invalidArgument("body", "must be a JSON object");
    }
    Map<String, String> properties = new HashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = body.fields(); it.hasNext();) {
      Map.Entry<String, JsonNode> e = it.next();
      if (CORE.contains(e.getKey())) {
        continue;
      }
      if (READ_ONLY.contains(e.getKey())) {
        throw new RestError(403, "Attribute '" + e.getKey() + "' is read-only.");
      }
      if (!e.getValue().isTextual()) {
        throw ApiException.invalidArgument(e.getKey(), "an additional property must be a string");
      }
      properties.put(e.getKey(), e.getValue().asText());
    }
    return access.create(caller, new NewImage(text(body, "id"), text(body, "name"),
        text(body, "disk_format"), text(body, "container_format"), "",
        body.has("visibility") ? text(body, "visibility") : "shared",
        integer(body, "min_disk"), integer(body, "min_ram"), properties),
        body.path("protected").asBoolean(false));
  }

  /** Applies a JSON patch of {@code contentType}; the image as it is afterwards. */
  static ImageRecord patch(ImageAccess access, ImageCaller caller, String id,
      String contentType, JsonNode ops) throws IOException {
    String type = contentType == null ? "" : contentType.split(";")[0].strip();
    boolean v21 = type.equals(PATCH_V21);
    if (!v21 && !type.equals(PATCH_V20)) {
      throw new RestError(415, "Content-Type must be " + PATCH_V21 + " or " + PATCH_V20
          + ", not '" + type + "'");
    }
    if (!ops.isArray()) {
      throw ApiException.invalidArgument("body", "a JSON patch is an array of operations");
    }
    String name = "";
    Boolean protect = null;
    Map<String, String> set = new HashMap<>();
    Set<String> remove = new HashSet<>();
    ImageRecord current = access.changeable(caller, id);
    for (JsonNode op : ops) {
      String verb;
      String path;
      if (v21) {
        verb = op.path("op").asText("");
        path = op.path("path").asText("");
      } else {
        verb = op.has("add") ? "add" : op.has("replace") ? "replace" : op.has("remove")
            ? "remove" : "";
        path = verb.isEmpty() ? "" : op.path(verb).asText("");
      }
      if (!path.startsWith("/") || path.length() < 2 || path.indexOf('/', 1) >= 0) {
        throw ApiException.invalidArgument("path", "must be /ATTRIBUTE, got '" + path + "'");
      }
      String key = path.substring(1);
      if (READ_ONLY.contains(key) || (!key.equals("name") && !key.equals("protected")
          && CORE.contains(key))) {
        throw new RestError(403, "Attribute '" + key + "' is read-only here.");
      }
      JsonNode value = op.get("value");
      switch (verb) {
        case "add", "replace" -> {
          if (value == null) {
            throw ApiException.invalidArgument(key, "the operation needs a value");
          }
          if (key.equals("protected")) {
            protect = value.asBoolean();
          } else if (!value.isTextual()) {
            throw ApiException.invalidArgument(key, "must be a string");
          } else if (key.equals("name")) {
            name = value.asText();
          } else {
            if (verb.equals("replace") && !current.properties().containsKey(key)) {
              throw ApiException.failedPrecondition("Property " + key + " does not exist.");
            }
            set.put(key, value.asText());
            remove.remove(key);
          }
        }
        case "remove" -> {
          if (!current.properties().containsKey(key)) {
            throw ApiException.failedPrecondition("Property " + key + " does not exist.");
          }
          remove.add(key);
          set.remove(key);
        }
        default -> throw ApiException.invalidArgument("op", "must be add, replace or remove,"
            + " got '" + verb + "'");
      }
    }
    return access.update(caller, id, name, set, remove, protect);
  }

  private static String text(JsonNode body, String field) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      return "";
    }
    if (!v.isTextual()) {
      throw ApiException.invalidArgument(field, "must be a string");
    }
    return v.asText();
  }

  private static int integer(JsonNode body, String field) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      return 0;
    }
    if (!v.canConvertToInt() || !v.isIntegralNumber()) {
      throw ApiException.invalidArgument(field, "must be an integer");
    }
    return v.asInt();
  }
}
