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
        .putAllProperties(r.properties())
        .addAllLocations(r.locations())
        .setCreatedAt(ts(r.createdAt()))
        .setUpdatedAt(ts(r.updatedAt()))
        .build();
  }

  public static ImageRecord fromProto(Image m) {
    return new ImageRecord(
        m.getId(), m.getName(),
        ImageStatus.valueOf(m.getStatus().name().substring("IMAGE_STATUS_".length())),
        m.getDiskFormat(), m.getContainerFormat(), m.getSize(), m.getVirtualSize(),
        m.getChecksum(), m.getOsHashValue(), m.getOwner(), m.getVisibility(), m.getMinDisk(),
        m.getMinRam(), m.getProtected(), m.getPropertiesMap(), m.getLocationsList(),
        instant(m.getCreatedAt()), instant(m.getUpdatedAt()));
  }

  private static Timestamp ts(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }

  private static Instant instant(Timestamp t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }
}
