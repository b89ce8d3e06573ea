package io.stratus.gateway.store.glance;

import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.ImageStatus;
import io.stratus.gateway.domain.NewImage;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.StoreInfo;
import io.stratus.gateway.store.UploadSink;
import io.stratus.support.errors.ApiException;
import io.stratus.support.imageio.Allocation;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Glance store: an OpenStack Glance (v2 HTTP API) is the system of record for image
 * records and their bytes; the gateway keeps nothing of its own.
 *
 * <pre>
 *   create       POST   /v2/images                 (id, formats, visibility, min_*, properties)
 *   get          GET    /v2/images/ID              (404 or deleted → empty)
 *   list         GET    /v2/images?sort=created_at:asc&amp;limit=…, following "next"
 *   update       PATCH  /v2/images/ID              (openstack-images-v2.1-json-patch)
 *   delete       DELETE /v2/images/ID
 *   beginUpload  PUT    /v2/images/ID/file         (one chunked body, see {@link GlanceUpload})
 *   open         GET    /v2/images/ID/file         (see {@link GlanceExtentSource})
 * </pre>
 *
 * Glance computes {@code checksum} (md5) and {@code os_hash_value} (sha512) itself; the
 * commit returns those and the gateway core compares them with its own.
 *
 * <p>What Glance cannot do, and what this store does instead:
 * <ul>
 *   <li>resume an upload: {@link #resumableOffset} and {@link UploadSink#durableOffset} are 0;
 *   <li>sparse content: an upload that announces its allocation is stored as a compact qcow2
 *       ({@link Qcow2Layout}, disk_format qcow2) and read back sparse ({@link
 *       Qcow2ExtentSource}); otherwise holes are sent as zeros, and all-zero chunks read back
 *       as zero extents;
 *   <li>set "killed": {@link #kill} of a queued image (the core aborts the upload first, so
 *       Glance already dropped the bytes) marks it with the property
 *       {@code stratus_status=killed} and it reads KILLED; {@link #kill} of an image that
 *       holds bytes (active, saving) deletes the image, the only way to make Glance drop
 *       them, and the record then reads NOT_FOUND;
 *   <li>owners without Keystone: the owner is the property {@code stratus_owner} (see
 *       {@link GlanceRecords}).
 * </ul>
 */
public final class GlanceBackend implements ImageBackend {
  private static final Logger LOG = LoggerFactory.getLogger(GlanceBackend.class);
  /** Page size asked of Glance when listing (Glance caps it at its api_limit_max, 1000). */
  public static final int LIST_PAGE = 1000;
  private static final String RAW = "raw";
  private static final String QCOW2 = "qcow2";

  private final GlanceClient client;
  private final Clock clock;
  private final int listPage;
  private final ExecutorService bodyExecutor;

  /**
   * A store on the Glance at {@code url}.
   *
   * @param url Glance's base URL, e.g. {@code http://127.0.0.1:9292} (the API is under /v2)
   * @param token sent as {@code X-Auth-Token} when not empty; empty for a noauth Glance
   * @param clock stamps records when Glance leaves a timestamp out
   */
  public GlanceBackend(URI url, String token, Clock clock) {
    this(url, token, clock, LIST_PAGE);
  }

  /**
   * A store that lists in pages of {@code listPage} images (tests use small pages to
   * exercise Glance's paging).
   */
  public GlanceBackend(URI url, String token, Clock clock, int listPage) {
    if (listPage < 1) {
      throw new IllegalArgumentException("listPage must be positive, got " + listPage);
    }
    this.client = new GlanceClient(url, token);
    this.clock = clock;
    this.listPage = listPage;
    AtomicInteger n = new AtomicInteger();
    this.bodyExecutor = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "glance-upload-body-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  @Override
  public boolean computesChecksums() {
    return true;
  }

  @Override
  public StoreInfo info() {
    return StoreInfo.of("glance");
  }

  @Override
  public ImageRecord create(NewImage image) {
    var answer = client.exchange(client.request("/v2/images")
        .header("Content-Type", GlanceClient.JSON)
        .POST(GlanceClient.json(GlanceRecords.createDocument(image))));
    if (answer.status() != 201) {
      throw GlanceErrors.of(GlanceErrors.Call.CREATE, image.id(), answer.status(), answer.body());
    }
    ImageRecord created = GlanceRecords.toRecord(answer.json(), clock);
    LOG.debug("glance image created; image={}", created.id());
    return created;
  }

  @Override
  public Optional<ImageRecord> get(String id) {
    return document(id).map(doc -> GlanceRecords.toRecord(doc, clock))
        .filter(r -> r.status() != ImageStatus.DELETED);
  }

  private Optional<Map<String, Object>> document(String id) {
    var answer = client.exchange(client.request("/v2/images/" + id).GET());
    if (answer.status() == 404) {
      return Optional.empty();
    }
    if (answer.status() != 200) {
      throw GlanceErrors.of(GlanceErrors.Call.READ, id, answer.status(), answer.body());
    }
    return Optional.of(answer.json());
  }

  /** The record, or NOT_FOUND. */
  ImageRecord require(String id) {
    return get(id).orElseThrow(() -> ApiException.notFound("image " + id + " not found"));
  }

  /** The image's status now (NOT_FOUND when Glance no longer has it). */
  ImageStatus statusOf(String id) {
    return require(id).status();
  }

  @Override
  public List<ImageRecord> list() {
    List<ImageRecord> all = new ArrayList<>();
    String next = "/v2/images?limit=" + listPage + "&sort=created_at:asc";
    while (next != null) {
      var answer = client.exchange(client.request(next).GET());
      if (answer.status() != 200) {
        throw GlanceErrors.of(GlanceErrors.Call.READ, "", answer.status(), answer.body());
      }
      Map<String, Object> page = answer.json();
      if (!(page.get("images") instanceof List<?> images)) {
        throw ApiException.unavailable("Glance's image list has no 'images' array", null);
      }
      for (Object doc : images) {
        if (doc instanceof Map<?, ?> m) {
          @SuppressWarnings("unchecked")
          ImageRecord r = GlanceRecords.toRecord((Map<String, Object>) m, clock);
          if (r.status() != ImageStatus.DELETED) {
            all.add(r);
          }
        }
      }
      next = page.get("next") instanceof String link && !images.isEmpty() ? link : null;
    }
    return all;
  }

  @Override
  public ImageRecord update(String id, String newName, Map<String, String> set, Set<String> remove) {
    ImageRecord current = require(id);
    var ops = GlanceRecords.patch(current, newName, set, remove);
    if (ops.isEmpty()) {
      return current;
    }
    return patch(id, ops, GlanceErrors.Call.UPDATE);
  }

  @Override
  public ImageRecord setProtected(String id, boolean value) {
    require(id);
    return patch(id, List.of(Map.of("op", "replace", "path", "/protected", "value", value)),
        GlanceErrors.Call.UPDATE);
  }

  private ImageRecord patch(String id, List<Map<String, Object>> ops, GlanceErrors.Call call) {
    var answer = client.exchange(client.request("/v2/images/" + id)
        .header("Content-Type", GlanceClient.JSON_PATCH)
        .method("PATCH", GlanceClient.json(ops)));
    if (answer.status() != 200) {
      throw GlanceErrors.of(call, id, answer.status(), answer.body());
    }
    return GlanceRecords.toRecord(answer.json(), clock);
  }

  @Override
  public void delete(String id) {
    var answer = client.exchange(client.request("/v2/images/" + id).DELETE());
    if (answer.status() != 204 && answer.status() != 200) {
      throw GlanceErrors.of(GlanceErrors.Call.DELETE, id, answer.status(), answer.body());
    }
    LOG.debug("glance image deleted; image={}", id);
  }

  @Override
  public UploadSink beginUpload(ImageRecord image, String uploadId, long virtualSize,
      long resumeOffset) throws IOException {
    return beginUpload(image, uploadId, virtualSize, resumeOffset, null);
  }

  /**
   * Starts the PUT. With an {@code allocation}, an image whose disk_format is raw, qcow2 or
   * unset, and whose size is whole 512-byte sectors, is sent as a compact qcow2 ({@link
   * Qcow2Layout}) and its disk_format becomes
   * qcow2, as Nova's snapshots are; without one, raw content with its holes as zeros (an
   * image left at qcow2 by an earlier compact attempt goes back to raw). Other disk
   * formats are the uploader's business and are sent as they come.
   */
  @Override
  public UploadSink beginUpload(ImageRecord image, String uploadId, long virtualSize,
      long resumeOffset, Allocation allocation) throws IOException {
    if (resumeOffset > 0) {
      throw ApiException.failedPrecondition("the Glance store cannot resume uploads; upload "
          + uploadId + " of image " + image.id() + " must start again at offset 0");
    }
    if (virtualSize == 0) {
      return new GlanceEmptyUpload(this, client, image.id());
    }
    String format = image.diskFormat();
    // qcow2 sizes are whole 512-byte sectors (qemu would drop a partial last one)
    boolean ours = (format.isEmpty() || format.equals(RAW) || format.equals(QCOW2))
        && virtualSize % 512 == 0;
    Qcow2Layout layout = ours && allocation != null ? Qcow2Layout.of(virtualSize, allocation) : null;
    String wanted = layout != null ? QCOW2 : format.equals(QCOW2) ? RAW : format;
    if (!wanted.equals(format)) {
      patch(image.id(), List.of(Map.of("op", format.isEmpty() ? "add" : "replace",
          "path", "/disk_format", "value", wanted)), GlanceErrors.Call.UPDATE);
    }
    GlanceUpload upload = GlanceUpload.start(this, client, bodyExecutor, image.id(), uploadId,
        layout);
    LOG.info("glance upload started; image={} upload={} virtualSize={} format={} bodyBytes={}",
        image.id(), uploadId, virtualSize, wanted.isEmpty() ? RAW : wanted,
        layout == null ? virtualSize : layout.fileSize());
    return upload;
  }

  @Override
  public long resumableOffset(String id, String uploadId) {
    return 0;
  }

  /**
   * Kills an image. A queued image (no bytes in Glance) gets {@code stratus_status=killed}
   * and reads KILLED; an image with bytes is deleted, since deleting is the only way to
   * make Glance drop them, and then reads NOT_FOUND.
   */
  @Override
  public void kill(String id) {
    ImageRecord current = require(id);
    switch (current.status()) {
      case QUEUED -> {
        patch(id, GlanceRecords.markKilled(), GlanceErrors.Call.UPDATE);
        LOG.info("glance image marked killed; image={}", id);
      }
      case KILLED, DELETED, PENDING_DELETE -> LOG.debug("glance image already {}; image={}",
          current.status().glanceName(), id);
      default -> {
        delete(id);
        LOG.warn("glance image killed by deleting it, the only way Glance drops the bytes of an"
            + " image in status {}; image={}", current.status().glanceName(), id);
      }
    }
  }

  @Override
  public ExtentSource open(ImageRecord image) throws IOException {
    HttpRequest get = client.request("/v2/images/" + image.id() + "/file")
        .timeout(GlanceClient.REQUEST_TIMEOUT).GET().build();
    HttpResponse<InputStream> answer = client.send(get, HttpResponse.BodyHandlers.ofInputStream());
    if (answer.statusCode() == 200) {
      if (image.diskFormat().equals(QCOW2)) {
        return new Qcow2ExtentSource(image.id(), answer.body());
      }
      long size = answer.headers().firstValueAsLong("Content-Length").orElse(image.size());
      return new GlanceExtentSource(image.id(), answer.body(), size);
    }
    String body;
    try (InputStream in = answer.body()) {
      body = new String(in.readNBytes(64 << 10), StandardCharsets.UTF_8);
    }
    if (answer.statusCode() == 204) {
      throw ApiException.failedPrecondition("image " + image.id() + " has no data in Glance");
    }
    throw GlanceErrors.of(GlanceErrors.Call.DOWNLOAD, image.id(), answer.statusCode(), body);
  }

  /** Glance's size of an active image; 0 for any other (Glance keeps no partial bytes). */
  @Override
  public long storedBytes(String id) {
    return get(id).filter(r -> r.status() == ImageStatus.ACTIVE).map(ImageRecord::size).orElse(0L);
  }

  @Override
  public void close() {
    bodyExecutor.shutdownNow();
    client.close();
  }
}
