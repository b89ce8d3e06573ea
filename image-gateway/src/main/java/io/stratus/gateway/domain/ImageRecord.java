package io.stratus.gateway.domain;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * An image record with Glance's v2 fields (SPEC §3).
 *
 * @param size bytes of the guest-visible content (Glance's {@code size})
 * @param virtualSize guest-visible size
 * @param checksum md5 hex of the content (filled after activation; see {@link #CHECKSUM_PENDING})
 * @param osHashValue sha512 hex of the content ({@code os_hash_algo} is always sha512)
 * @param properties user properties plus the gateway's own {@code stratus_*} ones: {@link
 *     #CONTENT_DIGEST} and {@link #CHECKSUM_PENDING}, kept there so every store persists
 *     them the way it persists properties
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
  /** Property prefix reserved for the gateway. */
  public static final String GATEWAY_PREFIX = "stratus_";
  /** Property holding the content digest ({@code sha256-4m:HEX}). */
  public static final String CONTENT_DIGEST = GATEWAY_PREFIX + "content_digest";
  /** Property set to {@code true} while md5 and sha512 are still being computed. */
  public static final String CHECKSUM_PENDING = GATEWAY_PREFIX + "checksum_pending";
  /**
   * Property set to {@code true} while the stored bytes of an image in a store that computes
   * its own md5 and sha512 (Glance) are still to be checked against the uploader's content
   * digest.
   */
  public static final String DIGEST_PENDING = GATEWAY_PREFIX + "digest_pending";

  public ImageRecord {
    properties = Map.copyOf(properties);
    locations = List.copyOf(locations);
  }

  public ImageRecord withStatus(ImageStatus newStatus, Instant now) {
    return new ImageRecord(id, name, newStatus, diskFormat, containerFormat, size, virtualSize,
        checksum, osHashValue, owner, visibility, minDisk, minRam, isProtected, properties,
        locations, createdAt, now);
  }

  /**
   * The record of content that became active, with its content digest (empty when the
   * bytes never passed through the gateway) and, when {@code checksumPending}, the mark
   * that md5 and sha512 are still to come.
   */
  public ImageRecord activated(long newSize, long newVirtualSize, String contentDigest,
      boolean checksumPending, List<String> newLocations, Instant now) {
    Map<String, String> props = new java.util.HashMap<>(properties);
    if (!contentDigest.isEmpty()) {
      props.put(CONTENT_DIGEST, contentDigest);
    }
    if (checksumPending) {
      props.put(CHECKSUM_PENDING, "true");
    }
    return new ImageRecord(id, name, ImageStatus.ACTIVE, diskFormat, containerFormat, newSize,
        newVirtualSize, "", "", owner, visibility, minDisk, minRam, isProtected, props,
        newLocations, createdAt, now);
  }

  /** The record once md5 and sha512 of the content are known (no longer pending). */
  public ImageRecord withChecksums(String md5, String sha512, Instant now) {
    Map<String, String> props = new java.util.HashMap<>(properties);
    props.remove(CHECKSUM_PENDING);
    return new ImageRecord(id, name, status, diskFormat, containerFormat, size, virtualSize,
        md5, sha512, owner, visibility, minDisk, minRam, isProtected, props, locations,
        createdAt, now);
  }

  /** The content digest, or empty. */
  public String contentDigest() {
    return properties.getOrDefault(CONTENT_DIGEST, "");
  }

  /** Whether md5 and sha512 are still to be computed. */
  public boolean checksumPending() {
    return "true".equals(properties.get(CHECKSUM_PENDING));
  }

  /** Whether the stored bytes are still to be checked against the content digest. */
  public boolean digestPending() {
    return "true".equals(properties.get(DIGEST_PENDING));
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

  /** The same record, protected or not. */
  public ImageRecord withProtected(boolean value, Instant now) {
    return new ImageRecord(id, name, status, diskFormat, containerFormat, size, virtualSize,
        checksum, osHashValue, owner, visibility, minDisk, minRam, value, properties,
        locations, createdAt, now);
  }

  public ImageRecord withNameAndProperties(String newName, Map<String, String> newProperties,
      Instant now) {
    return new ImageRecord(id, newName, status, diskFormat, containerFormat, size, virtualSize,
        checksum, osHashValue, owner, visibility, minDisk, minRam, isProtected, newProperties,
        locations, createdAt, now);
  }
}
