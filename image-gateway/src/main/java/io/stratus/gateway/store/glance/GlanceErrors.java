package io.stratus.gateway.store.glance;

import io.stratus.support.errors.ApiException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns Glance's HTTP error answers into {@link ApiException} kinds, keeping Glance's own
 * message (cleaned of its HTML line breaks and schema dumps):
 *
 * <pre>
 *   400 ─────────────────────────► INVALID_ARGUMENT (field taken from Glance's message)
 *   403 on create/update ────────► INVALID_ARGUMENT (a read-only or reserved attribute)
 *   403 otherwise ───────────────► PERMISSION_DENIED
 *   404 ─────────────────────────► NOT_FOUND "image ID not found"
 *   409 on create ───────────────► ALREADY_EXISTS "image ID already exists"
 *   409 on update ───────────────► ABORTED (the record changed under us)
 *   409 otherwise ───────────────► FAILED_PRECONDITION (wrong status for the operation)
 *   413 ─────────────────────────► RESOURCE_EXHAUSTED (property quota, store full)
 *   401, other 4xx, 5xx, no answer ► UNAVAILABLE
 * </pre>
 */
final class GlanceErrors {
  /** What the gateway asked Glance to do; decides how 403 and 409 read. */
  enum Call {
    CREATE,
    READ,
    UPDATE,
    DELETE,
    UPLOAD,
    DOWNLOAD
  }

  private static final Pattern SCHEMA_FIELD = Pattern.compile("On instance\\['([^']+)'\\]");
  private static final Pattern ATTRIBUTE = Pattern.compile("Attribute '([^']+)'");
  private static final Pattern PROPERTY = Pattern.compile("[Pp]roperty '?([^' ]+?)'? ");

  private GlanceErrors() {}

  /** The exception for an HTTP answer that is not a success. */
  static ApiException of(Call call, String imageId, int status, String body) {
    String message = message(body);
    String about = imageId.isEmpty() ? "" : "image " + imageId + ": ";
    return switch (status) {
      case 400 -> ApiException.invalidArgument(field(body, call), message);
      case 401 -> ApiException.unavailable("Glance refused the gateway's credentials (401): "
          + message, null);
      case 403 -> call == Call.CREATE || call == Call.UPDATE
          ? ApiException.invalidArgument(field(body, call), message)
          : ApiException.permissionDenied(about + message);
      case 404 -> ApiException.notFound("image " + imageId + " not found");
      case 409 -> switch (call) {
        case CREATE -> ApiException.alreadyExists("image " + imageId + " already exists");
        case UPDATE -> ApiException.aborted(about + message);
        default -> ApiException.failedPrecondition(about + message);
      };
      case 413 -> ApiException.resourceExhausted(about + message);
      default -> ApiException.unavailable("Glance answered " + status + " to "
          + call.name().toLowerCase(java.util.Locale.ROOT) + (imageId.isEmpty() ? "" : " of image "
          + imageId) + ": " + message, null);
    };
  }

  /** Glance could not be reached, or the exchange broke. */
  static ApiException unreachable(String where, Exception cause) {
    return ApiException.unavailable("Glance at " + where + " is unavailable: "
        + (cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage()),
        cause);
  }

  /**
   * Glance's message from its JSON error body ({@code {"message": …, "code": …}}): the
   * first paragraph, plus the second when the first is only the generic "Access was
   * denied"; never the schema dump after "Failed validating".
   */
  static String message(String body) {
    String raw = body;
    try {
      Object m = Json.parseObject(body).get("message");
      if (m instanceof String s) {
        raw = s;
      }
    } catch (IllegalArgumentException notJson) {
      // keep the body as it is
    }
    String text = raw.replace("<br />", "\n\n").replace("<br/>", "\n\n");
    List<String> paragraphs = new ArrayList<>();
    for (String p : text.split("\\n\\s*\\n")) {
      String clean = p.strip().replaceAll("\\s+", " ");
      if (clean.isEmpty()) {
        continue;
      }
      if (clean.startsWith("Failed validating")) {
        break;
      }
      paragraphs.add(clean);
    }
    if (paragraphs.isEmpty()) {
      return "(no message)";
    }
    String first = paragraphs.get(0);
    if (paragraphs.size() > 1 && first.startsWith("Access was denied")) {
      return paragraphs.get(1);
    }
    return first.length() > 500 ? first.substring(0, 500) + "…" : first;
  }

  /** The request field a Glance message blames, or a general one for the call. */
  private static String field(String body, Call call) {
    String text = body;
    try {
      Object m = Json.parseObject(body).get("message");
      text = m instanceof String s ? s : body;
    } catch (IllegalArgumentException notJson) {
      // search the raw body
    }
    Matcher schema = SCHEMA_FIELD.matcher(text);
    if (schema.find()) {
      return schema.group(1);
    }
    Matcher attribute = ATTRIBUTE.matcher(text);
    if (attribute.find()) {
      return "properties." + attribute.group(1);
    }
    Matcher property = PROPERTY.matcher(text);
    if (property.find()) {
      return "properties." + property.group(1);
    }
    return switch (call) {
      case UPDATE -> "update";
      case UPLOAD -> "data";
      default -> "image";
    };
  }
}
