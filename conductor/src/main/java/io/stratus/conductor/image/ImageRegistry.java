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

  /** The image's properties, or empty when the gateway has no such image. */
  Optional<Map<String, String>> properties(String imageId);

  /**
   * Sets {@code properties} on a queued image and makes it active with no content (size
   * 0), as Nova does for the image of a volume-backed snapshot.
   */
  void activateEmpty(String imageId, Map<String, String> properties);

  /** The project owning the image, or empty when the gateway has no such image. */
  Optional<String> owner(String imageId);

  /**
   * Deletes the image; an image that is already gone is not an error. The conductor
   * deletes the volume snapshots a volume-backed snapshot image lists itself (or there are
   * none yet), so it always tells the gateway they are released.
   */
  void delete(String imageId);
}
