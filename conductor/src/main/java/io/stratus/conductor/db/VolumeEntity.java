package io.stratus.conductor.db;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.util.UUID;

/**
 * A volume (Cinder's volume): an RBD image attached to a volume-backed instance as guest
 * device {@code device}. Status {@code in-use} while attached, {@code available} when its
 * instance was deleted but the volume kept (delete_on_termination false, or an image's
 * snapshots depend on it), {@code deleted} once removed.
 */
@Entity
@Table(name = "volumes")
public class VolumeEntity {
  @Id
  private UUID id;

  @Column(name = "project_id")
  private String projectId;

  @Column(name = "instance_uuid")
  private UUID instanceUuid;

  private String pool;

  @Column(name = "rbd_image")
  private String rbdImage;

  @Column(name = "size_bytes")
  private long sizeBytes;

  private String device;

  @Column(name = "boot_index")
  private int bootIndex;

  @Column(name = "delete_on_termination")
  private boolean deleteOnTermination;

  @Column(name = "source_type")
  private String sourceType;

  @Column(name = "source_id")
  private String sourceId;

  private String status;

  @Column(name = "created_at")
  private Instant createdAt;

  @Column(name = "deleted_at")
  private Instant deletedAt;

  protected VolumeEntity() {}

  public VolumeEntity(UUID id, String projectId, UUID instanceUuid, String pool, long sizeBytes,
      String device, int bootIndex, boolean deleteOnTermination, String sourceType,
      String sourceId, Instant createdAt) {
    this.id = id;
    this.projectId = projectId;
    this.instanceUuid = instanceUuid;
    this.pool = pool;
    this.rbdImage = "volume-" + id;
    this.sizeBytes = sizeBytes;
    this.device = device;
    this.bootIndex = bootIndex;
    this.deleteOnTermination = deleteOnTermination;
    this.sourceType = sourceType;
    this.sourceId = sourceId;
    this.status = "in-use";
    this.createdAt = createdAt;
  }

  public UUID id() {
    return id;
  }

  public String projectId() {
    return projectId;
  }

  public UUID instanceUuid() {
    return instanceUuid;
  }

  public String pool() {
    return pool;
  }

  public String rbdImage() {
    return rbdImage;
  }

  public long sizeBytes() {
    return sizeBytes;
  }

  public String device() {
    return device;
  }

  public int bootIndex() {
    return bootIndex;
  }

  public boolean deleteOnTermination() {
    return deleteOnTermination;
  }

  /** {@code image}, {@code blank} or {@code snapshot}. */
  public String sourceType() {
    return sourceType;
  }

  /** The image id or volume snapshot id it was made from, else null. */
  public String sourceId() {
    return sourceId;
  }

  public String status() {
    return status;
  }

  public void setStatus(String status, Instant at) {
    this.status = status;
    if ("deleted".equals(status)) {
      this.deletedAt = at;
    }
  }
}
