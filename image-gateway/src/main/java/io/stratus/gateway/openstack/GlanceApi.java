package io.stratus.gateway.openstack;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stratus.gateway.domain.ImageAccess;
import io.stratus.gateway.domain.ImageCatalog;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.ImageStatus;
import io.stratus.gateway.identity.ImageCaller;
import io.stratus.gateway.identity.TokenValidator;
import io.stratus.gateway.store.Extent;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.upload.DataMeters;
import io.stratus.support.errors.ApiException;
import io.stratus.support.rest.HttpStatus;
import io.stratus.support.rest.RestExchange;
import io.stratus.support.rest.Router;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * The Glance v2 subset (REST) over the gateway's {@link ImageAccess}, the rules its gRPC
 * API applies too: version discovery, images list (filters, sort, marker paging), show,
 * create and JSON patch ({@link GlanceWrites}), delete, the data streamed out ({@code GET
 * …/file}; 204 while an image has none), and the schemas {@code glanceclient} reads.
 * Callers authenticate with a Keystone token ({@code X-Auth-Token}), checked by the
 * conductor ({@link TokenValidator}).
 */
public final class GlanceApi {
  /** Glance's {@code api_limit_max}. */
  static final int MAX_LIMIT = 1000;
  /** Glance's {@code limit_param_default}. */
  static final int DEFAULT_LIMIT = 25;
  private static final int CHUNK = 1 << 20;

  private final ImageAccess access;
  private final ImageBackend backend;
  private final TokenValidator tokens;
  private final java.util.function.Supplier<io.stratus.gateway.upload.UploadSession> uploads;
  private final java.util.function.UnaryOperator<ImageRecord> activated;

  /**
   * @param uploads a new upload session (limits and slots shared with the gRPC uploads)
   * @param activated what follows an upload that made an image active (the checksums'
   *     background pass); returns the record to answer with
   */
  public GlanceApi(ImageAccess access, ImageBackend backend, TokenValidator tokens,
      java.util.function.Supplier<io.stratus.gateway.upload.UploadSession> uploads,
      java.util.function.UnaryOperator<ImageRecord> activated) {
    this.access = access;
    this.backend = backend;
    this.tokens = tokens;
    this.uploads = uploads;
    this.activated = activated;
  }

  /** Adds the routes to {@code router}. */
  public void routes(Router router) {
    router.get("/", x -> versions(x, 300))
        .get("/versions", x -> versions(x, 200))
        .get("/v2/schemas/image", x -> x.json(200, GlanceViews.imageSchema()))
        .get("/v2/schemas/images", x -> x.json(200, GlanceViews.imagesSchema()))
        .get("/v2/images", this::list)
        .post("/v2/images", x -> {
          ImageRecord created = GlanceWrites.create(access, caller(x), x.json());
          x.responseHeader("Location", x.baseUrl() + "/v2/images/" + created.id());
          x.json(201, GlanceViews.image(created));
        })
        .patch("/v2/images/{id}", x -> {
          ImageCaller c = caller(x);
          String id = imageId(x);
          x.json(200, GlanceViews.image(GlanceWrites.patch(access, c, id,
              x.header("Content-Type"), x.json())));
        })
        .get("/v2/images/{id}", x -> x.json(200, GlanceViews.image(
            access.visible(caller(x), imageId(x)))))
        .delete("/v2/images/{id}", x -> {
          access.delete(caller(x), imageId(x), false);
          x.empty(204);
        })
        .get("/v2/images/{id}/file", this::download)
        .put("/v2/images/{id}/file", x -> {
          ImageRecord image = access.changeable(caller(x), imageId(x));
          GlanceUpload.put(x, image, uploads.get(), activated);
          x.empty(204);
        });
  }

  private void versions(RestExchange x, int status) throws IOException {
    ArrayNode versions = RestExchange.JSON.createArrayNode();
    for (String[] v : new String[][] {{"v2.9", "CURRENT"}, {"v2.0", "SUPPORTED"}}) {
      ObjectNode o = versions.addObject();
      o.put("id", v[0]).put("status", v[1]);
      o.putArray("links").addObject().put("rel", "self").put("href", x.baseUrl() + "/v2/");
    }
    x.json(status, Map.of("versions", versions));
  }

  private ImageCaller caller(RestExchange x) {
    String token = x.header("X-Auth-Token");
    if (token == null || token.isBlank()) {
      throw ApiException.unauthenticated("This server could not verify that you are"
          + " authorized to access the document you requested.");
    }
    if (tokens == null) {
      throw ApiException.unauthenticated("this gateway has no identity.address to check"
          + " tokens with");
    }
    return tokens.validate(token.strip());
  }

  /** The image id in the path; anything not shaped like one is an image that is not there. */
  private static String imageId(RestExchange x) {
    String id = x.param("id");
    try {
      UUID.fromString(id);
      return id;
    } catch (IllegalArgumentException e) {
      throw ApiException.notFound("No image found with ID " + id);
    }
  }

  private void list(RestExchange x) throws IOException {
    ImageCaller c = caller(x);
    int limit = DEFAULT_LIMIT;
    if (x.query("limit") != null) {
      try {
        limit = Math.min(MAX_LIMIT, Integer.parseInt(x.query("limit")));
      } catch (NumberFormatException e) {
        throw ApiException.invalidArgument("limit", "must be an integer");
      }
      if (limit < 0) {
        throw ApiException.invalidArgument("limit", "must be >= 0");
      }
    }
    List<ImageRecord> all = new ArrayList<>();
    String token = "";
    do {
      ImageCatalog.Page page = access.list(c, "", null, Map.of(), MAX_LIMIT, token);
      all.addAll(page.images());
      token = page.nextToken();
    } while (!token.isEmpty());
    List<ImageRecord> matching = new ArrayList<>(all.stream()
        .filter(i -> i.status() != ImageStatus.DELETED)
        .filter(i -> matches(x.query("name"), i.name()))
        .filter(i -> matches(x.query("status"), i.status().glanceName()))
        .filter(i -> matches(x.query("visibility"), i.visibility()))
        .filter(i -> matches(x.query("owner"), i.owner()))
        .filter(i -> !"true".equalsIgnoreCase(x.query("os_hidden")))
        .toList());
    matching.sort(GlanceSort.of(x));
    int start = 0;
    String marker = x.query("marker");
    if (marker != null) {
      start = -1;
      for (int i = 0; i < matching.size(); i++) {
        if (matching.get(i).id().equals(marker)) {
          start = i + 1;
          break;
        }
      }
      if (start < 0) {
        throw ApiException.invalidArgument("marker", "marker " + marker + " could not be found");
      }
    }
    List<ImageRecord> page = matching.subList(start, Math.min(matching.size(), start + limit));
    ObjectNode body = RestExchange.JSON.createObjectNode();
    ArrayNode images = body.putArray("images");
    page.forEach(i -> images.add(GlanceViews.image(i)));
    body.put("first", "/v2/images");
    body.put("schema", "/v2/schemas/images");
    if (start + limit < matching.size() && !page.isEmpty()) {
      body.put("next", "/v2/images?marker=" + page.get(page.size() - 1).id() + "&limit="
          + limit);
    }
    x.json(200, body);
  }

  private static boolean matches(String wanted, String value) {
    return wanted == null || wanted.equals(value);
  }

  /** {@code GET /v2/images/{id}/file}: the bytes, streamed; 204 while it has none. */
  private void download(RestExchange x) throws IOException {
    ImageRecord image = access.visible(caller(x), imageId(x));
    if (image.status() == ImageStatus.QUEUED || image.status() == ImageStatus.SAVING) {
      x.empty(204);
      return;
    }
    if (image.status() != ImageStatus.ACTIVE) {
      throw ApiException.notFound("image " + image.id() + " is " + image.status().glanceName()
          + " and has no data");
    }
    if (image.checksum() != null && !image.checksum().isEmpty()) {
      x.responseHeader("Content-MD5", image.checksum());
    }
    try (ExtentSource source = backend.open(image);
        OutputStream out = x.stream(200, "application/octet-stream", image.size())) {
      byte[] zeros = new byte[64 << 10];
      for (Extent e = source.next(CHUNK); e != null; e = source.next(CHUNK)) {
        switch (e) {
          case Extent.Data d -> {
            DataMeters.DOWNLOADED.increment(d.data().remaining());
            java.nio.channels.Channels.newChannel(out).write(d.data());
          }
          case Extent.Zero z -> {
            for (long left = z.length(); left > 0; left -= zeros.length) {
              out.write(zeros, 0, (int) Math.min(zeros.length, left));
            }
          }
        }
      }
    }
  }

  /** Glance's error answer: a short text body with the status line and the message. */
  public static void error(RestExchange x, Throwable e) throws IOException {
    int status = HttpStatus.of(e);
    String title = switch (status) {
      case 400 -> "Bad Request";
      case 401 -> "Unauthorized";
      case 403 -> "Forbidden";
      case 404 -> "Not Found";
      case 405 -> "Method Not Allowed";
      case 409 -> "Conflict";
      case 413 -> "Request Entity Too Large";
      case 503 -> "Service Unavailable";
      default -> "Internal Server Error";
    };
    x.send(status, "text/plain; charset=UTF-8", (status + " " + title + "\n\n"
        + HttpStatus.message(e) + "\n").getBytes(StandardCharsets.UTF_8));
  }

  /** The order of an images list: {@code sort_key}/{@code sort_dir} or {@code sort}. */
  static final class GlanceSort {
    private GlanceSort() {}

    static Comparator<ImageRecord> of(RestExchange x) {
      String key = x.query("sort_key");
      String dir = x.query("sort_dir");
      String sort = x.query("sort");
      if (sort != null && key == null) {
        String[] parts = sort.split(",")[0].split(":");
        key = parts[0];
        dir = parts.length > 1 ? parts[1] : "desc";
      }
      key = key == null ? "created_at" : key;
      dir = dir == null ? "desc" : dir.toLowerCase(Locale.ROOT);
      Comparator<ImageRecord> c = switch (key) {
        case "name" -> Comparator.comparing(i -> i.name() == null ? "" : i.name());
        case "created_at" -> Comparator.comparing(ImageRecord::createdAt);
        case "updated_at" -> Comparator.comparing(ImageRecord::updatedAt);
        case "size" -> Comparator.comparingLong(ImageRecord::size);
        case "status" -> Comparator.comparing(i -> i.status().glanceName());
        case "id" -> Comparator.comparing(ImageRecord::id);
        default -> throw ApiException.invalidArgument("sort_key", "unsupported sort key "
            + key);
      };
      c = c.thenComparing(ImageRecord::id);
      return switch (dir) {
        case "asc" -> c;
        case "desc" -> c.reversed();
        default -> throw ApiException.invalidArgument("sort_dir", "must be asc or desc");
      };
    }
  }
}
