package io.stratus.gateway.domain;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * An image record with Glance's v2 fields (SPEC §3).
 *
 * @param size bytes of the guest-visible content (Glance's {@code size})
 * @param virtualSize guest-visible size
 * @param checksum md5 hex of the content
 * @param osHashValue sha512 hex of the content ({@code os_hash_algo} is always sha512)
 */
public record ImageRecord(
    String id,
    String name,
    ImageStatus status,
    String diskFormat,
    String containerFormat,
    long size,
    long virtualSize,
    String checksum,
    String osHashValue,
    String owner,
    String visibility,
    int minDisk,
    int minRam,
    boolean isProtected,
    Map<String, String> properties,
    List<String> locations,
    Instant createdAt,
    Instant updatedAt) {

  public static final String OS_HASH_ALGO = "sha512";

  public ImageRecord {
    properties = Map.copyOf(properties);
    locations = List.copyOf(locations);
  }

  public ImageRecord withStatus(ImageStatus newStatus, Instant now) {
    return new ImageRecord(id, name, newStatus, diskFormat, containerFormat, size, virtualSize,
        checksum, osHashValue, owner, visibility, minDisk, minRam, isProtected, properties,
        locations, createdAt, now);
  }

  /** The record of content that became active. */
  public ImageRecord activated(long newSize, long newVirtualSize, String md5, String sha512,
      List<String> newLocations, Instant now) {
    return new ImageRecord(id, name, ImageStatus.ACTIVE, diskFormat, containerFormat, newSize,
        newVirtualSize, md5, sha512, owner, visibility, minDisk, minRam, isProtected, properties,
        newLocations, createdAt, now);
  }

  /**
   * The record after an update: renamed unless {@code newName} is null, {@code set}
   * properties added or replaced, {@code remove} ones dropped.
   */
  public ImageRecord updated(String newName, Map<String, String> set,
      java.util.Set<String> remove, Instant now) {
    Map<String, String> props = new java.util.HashMap<>(properties);
    props.putAll(set);
    remove.forEach(props::remove);
    return withNameAndProperties(newName == null ? name : newName, props, now);
  }

  public ImageRecord withNameAndProperties(String newName, Map<String, String> newProperties,
      Instant now) {
    return new ImageRecord(id, newName, status, diskFormat, containerFormat, size, virtualSize,
        checksum, osHashValue, owner, visibility, minDisk, minRam, isProtected, newProperties,
        locations, createdAt, now);
  }
}
