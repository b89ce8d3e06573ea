package io.stratus.conductor.image;

import java.util.Map;
import java.util.Optional;

/**
 * The conductor's view of the image-gateway: create the queued record of a snapshot image,
 * read its status, delete it. Failures to reach the gateway surface as {@link
 * io.stratus.conductor.domain.ApiException} UNAVAILABLE.
 */
public interface ImageRegistry {
  /** Status of an image as the gateway reports it. */
  enum Status {
    QUEUED,
    SAVING,
    ACTIVE,
    KILLED,
    DELETED,
    OTHER
  }

  /**
   * Creates a queued image record owned by {@code owner} with the given properties;
   * returns its id.
   */
  String createQueued(String name, String owner, Map<String, String> properties);

  /** The image's status, or empty when the gateway has no such image. */
  Optional<Status> status(String imageId);

  /**
   * What the conductor needs to know of an image to boot from it or delete it.
   *
   * @param owner the owning project
   * @param visibility private, shared, community or public
   * @param properties the image's properties
   */
  record ImageInfo(String owner, String visibility, Map<String, String> properties) {
    public ImageInfo {
      properties = Map.copyOf(properties);
    }
  }

  /** The image, or empty when the gateway has no such image. */
  Optional<ImageInfo> find(String imageId);

  /**
   * Sets {@code properties} on a queued image and makes it active with no content (size
   * 0), as Nova does for the image of a volume-backed snapshot.
   */
  void activateEmpty(String imageId, Map<String, String> properties);

  /**
   * A snapshot image (made by createImage) that is not active yet.
   *
   * @param id the image id
   * @param status queued or saving
   * @param createdAt when the conductor created its record
   */
  record Unfinished(String id, Status status, java.time.Instant createdAt) {}

  /** Every snapshot image ({@code image_type=snapshot}) still queued or saving. */
  java.util.List<Unfinished> unfinishedSnapshots();

  /**
   * Deletes the image; an image that is already gone is not an error. The conductor
   * deletes the volume snapshots a volume-backed snapshot image lists itself (or there are
   * none yet), so it always tells the gateway they are released.
   */
  void delete(String imageId);
}
