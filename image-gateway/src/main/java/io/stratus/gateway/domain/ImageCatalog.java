package io.stratus.gateway.domain;

import io.stratus.gateway.store.ImageBackend;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Image records over a store: validation, listing with filters and pages, deletion rules. */
public final class ImageCatalog {
  private static final Logger LOG = LoggerFactory.getLogger(ImageCatalog.class);

  /** A page of images and the token of the next one (empty at the end). */
  public record Page(List<ImageRecord> images, String nextToken) {}

  private final ImageBackend backend;

  public ImageCatalog(ImageBackend backend) {
    this.backend = backend;
  }

  public ImageRecord create(NewImage request) {
    ImageRecord r = backend.create(ImageValidator.newImage(request));
    LOG.info("image created; image={} owner={} name={}", r.id(), r.owner(), r.name());
    return r;
  }

  public ImageRecord get(String id) {
    String checked = ImageValidator.id("image_id", id);
    return backend.get(checked)
        .orElseThrow(() -> ApiException.notFound("image " + checked + " not found"));
  }

  /**
   * Lists images oldest first, filtered (only those {@code listed} lets through: the
   * caller's), in pages of {@code size} (0 = 25, at most 1000).
   */
  public Page list(String owner, ImageStatus status, Map<String, String> properties, int size,
      String token, Predicate<ImageRecord> listed) {
    int pageSize = size == 0 ? 25 : size;
    if (pageSize < 0 || pageSize > 1000) {
      throw ApiException.invalidArgument("page_size", "must be between 0 and 1000");
    }
    String after = decode(token);
    List<ImageRecord> matching = backend.list().stream()
        .filter(listed)
        .filter(r -> owner.isEmpty() || r.owner().equals(owner))
        .filter(r -> status == null || r.status() == status)
        .filter(r -> properties.entrySet().stream()
            .allMatch(e -> e.getValue().equals(r.properties().get(e.getKey()))))
        .toList();
    int start = 0;
    if (after != null) {
      start = -1;
      for (int i = 0; i < matching.size(); i++) {
        if (matching.get(i).id().equals(after)) {
          start = i + 1;
          break;
        }
      }
      if (start < 0) {
        throw ApiException.invalidArgument("page_token", "names an image that no longer matches");
      }
    }
    List<ImageRecord> page = matching.subList(start, Math.min(matching.size(), start + pageSize));
    String next = start + pageSize < matching.size() ? encode(page.get(page.size() - 1).id()) : "";
    return new Page(page, next);
  }

  public ImageRecord update(String id, String name, Map<String, String> set, Set<String> remove) {
    ImageRecord current = get(id);
    if (current.status() == ImageStatus.DELETED) {
      throw ApiException.failedPrecondition("image " + id + " is deleted");
    }
    ImageValidator.properties("set_properties", set);
    for (String key : remove) {
      if (key.startsWith(ImageRecord.GATEWAY_PREFIX)) {
        throw ApiException.invalidArgument("remove_properties." + key, "properties named "
            + ImageRecord.GATEWAY_PREFIX + "* are set by the image-gateway only");
      }
    }
    // every property counts, the gateway's own too, as Glance counts them
    long after = current.properties().keySet().stream()
        .filter(k -> !remove.contains(k) && !set.containsKey(k))
        .count() + set.size();
    if (after > ImageValidator.MAX_PROPERTIES) {
      throw ApiException.resourceExhausted("set_properties: the image would have " + after
          + " properties, over the limit image_property_quota = " + ImageValidator.MAX_PROPERTIES);
    }
    String newName = name.isEmpty() ? null : ImageValidator.name(name);
    return backend.update(current.id(), newName, set, remove);
  }

  /** Deletes an image and its bytes; NOT_FOUND the second time. */
  public void delete(String id) {
    delete(id, false);
  }

  /**
   * Deletes an image. The image of a volume-backed snapshot (bdm_v2=True with a
   * block_device_mapping) is refused unless {@code volumeSnapshotsReleased}: the conductor
   * deletes its volume snapshots first, else they would be left behind in Ceph.
   */
  public void delete(String id, boolean volumeSnapshotsReleased) {
    ImageRecord r = get(id);
    if (r.isProtected()) {
      throw ApiException.failedPrecondition("image " + id + " is protected");
    }
    if (!volumeSnapshotsReleased && r.properties().containsKey("block_device_mapping")
        && "true".equalsIgnoreCase(r.properties().getOrDefault("bdm_v2", ""))) {
      throw ApiException.failedPrecondition("image " + id + " is a volume-backed snapshot: delete"
          + " it through the conductor (Servers.DeleteSnapshotImage), which also deletes its"
          + " volume snapshots");
    }
    try {
      backend.delete(r.id());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    LOG.info("image deleted; image={}", r.id());
  }

  private static String encode(String id) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(id.getBytes(StandardCharsets.UTF_8));
  }

  private static String decode(String token) {
    if (token == null || token.isEmpty()) {
      return null;
    }
    try {
      return new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw ApiException.invalidArgument("page_token", "is not a token this API issued");
    }
  }
}
