package io.stratus.gateway.domain;

import com.google.protobuf.Timestamp;
import io.stratus.proto.image.v1.Image;
import java.time.Instant;

/** Converts image records to and from the {@code image.v1.Image} message. */
public final class ImageMessages {
  private ImageMessages() {}

  public static Image toProto(ImageRecord r) {
    return Image.newBuilder()
        .setId(r.id())
        .setName(r.name())
        .setStatus(io.stratus.proto.image.v1.ImageStatus.valueOf("IMAGE_STATUS_" + r.status().name()))
        .setDiskFormat(r.diskFormat())
        .setContainerFormat(r.containerFormat())
        .setSize(r.size())
        .setVirtualSize(r.virtualSize())
        .setChecksum(r.checksum())
        .setOsHashAlgo(r.checksum().isEmpty() ? "" : ImageRecord.OS_HASH_ALGO)
        .setOsHashValue(r.osHashValue())
        .setOwner(r.owner())
        .setVisibility(r.visibility())
        .setMinDisk(r.minDisk())
        .setMinRam(r.minRam())
        .setProtected(r.isProtected())
        .putAllProperties(userVisible(r.properties()))
        .setContentDigest(r.contentDigest())
        .addAllLocations(r.locations())
        .setCreatedAt(ts(r.createdAt()))
        .setUpdatedAt(ts(r.updatedAt()))
        .build();
  }

  /** Properties as clients see them: the content digest has its own field. */
  private static java.util.Map<String, String> userVisible(java.util.Map<String, String> props) {
    if (!props.containsKey(ImageRecord.CONTENT_DIGEST)) {
      return props;
    }
    java.util.Map<String, String> out = new java.util.HashMap<>(props);
    out.remove(ImageRecord.CONTENT_DIGEST);
    return out;
  }

  public static ImageRecord fromProto(Image m) {
    java.util.Map<String, String> props = new java.util.HashMap<>(m.getPropertiesMap());
    if (!m.getContentDigest().isEmpty()) {
      props.put(ImageRecord.CONTENT_DIGEST, m.getContentDigest());
    }
    return new ImageRecord(
        m.getId(), m.getName(),
        ImageStatus.valueOf(m.getStatus().name().substring("IMAGE_STATUS_".length())),
        m.getDiskFormat(), m.getContainerFormat(), m.getSize(), m.getVirtualSize(),
        m.getChecksum(), m.getOsHashValue(), m.getOwner(), m.getVisibility(), m.getMinDisk(),
        m.getMinRam(), m.getProtected(), props, m.getLocationsList(),
        instant(m.getCreatedAt()), instant(m.getUpdatedAt()));
  }

  private static Timestamp ts(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }

  private static Instant instant(Timestamp t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }
}
