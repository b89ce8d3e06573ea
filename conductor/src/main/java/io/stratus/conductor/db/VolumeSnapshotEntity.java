package io.stratus.conductor.db;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.UUID;

/**
 * A snapshot of a volume (Cinder's snapshot) taken by a volume-backed createImage: RBD
 * snapshot {@code rbdSnapshot} of the volume's image, listed in the block_device_mapping
 * of image {@code imageId}.
 */
@Entity
@Table(name = "volume_snapshots")
public class VolumeSnapshotEntity {
  @Id
  private UUID id;

  @Column(name = "volume_id")
  private UUID volumeId;

  @Column(name = "image_id")
  private String imageId;

  @Column(name = "rbd_snapshot")
  private String rbdSnapshot;

  @Column(name = "size_bytes")
  private long sizeBytes;

  @Column(name = "created_at")
  private Instant createdAt;

  protected VolumeSnapshotEntity() {}

  public VolumeSnapshotEntity(UUID id, UUID volumeId, String imageId, String rbdSnapshot,
      long sizeBytes, Instant createdAt) {
    this.id = id;
    this.volumeId = volumeId;
    this.imageId = imageId;
    this.rbdSnapshot = rbdSnapshot;
    this.sizeBytes = sizeBytes;
    this.createdAt = createdAt;
  }

  public UUID id() {
    return id;
  }

  public UUID volumeId() {
    return volumeId;
  }

  public String imageId() {
    return imageId;
  }

  public String rbdSnapshot() {
    return rbdSnapshot;
  }

  public long sizeBytes() {
    return sizeBytes;
  }
}
