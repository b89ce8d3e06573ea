package io.stratus.conductor.db;

import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.hibernate.Session;

/** Reads and writes {@code volumes} and {@code volume_snapshots}. */
public final class VolumeStore {

  public void insert(Session session, VolumeEntity volume) {
    session.persist(volume);
  }

  /** The instance's volumes that are not deleted, boot volume first, then by device. */
  /**
   * A volume as an agent's task needs it; {@code sourceSnapshot} is
   * {@code pool/image@snapshot} of the RBD snapshot it was made from, if it was.
   */
  public record Attached(UUID id, String pool, String rbdImage, String device, int bootIndex,
      long sizeBytes, boolean deleteOnTermination, String sourceType, String sourceId,
      String sourceSnapshot) {}

  /**
   * The volumes of {@code instanceUuid} (not deleted), boot volume first, as
   * {@link #ofInstance} orders them, in one plain JDBC statement: every operation's task
   * carries them, and the query through Hibernate cost the conductor more than this.
   */
  public List<Attached> attached(Session session, UUID instanceUuid) {
    return Jdbc.query(session, "SELECT v.id, v.pool, v.rbd_image, v.device, v.boot_index,"
        + " v.size_bytes, v.delete_on_termination, v.source_type, v.source_id,"
        + " p.pool || '/' || p.rbd_image || '@' || s.rbd_snapshot"
        + " FROM volumes v"
        + " LEFT JOIN volume_snapshots s ON v.source_type = 'snapshot'"
        + "   AND s.id::text = v.source_id"
        + " LEFT JOIN volumes p ON p.id = s.volume_id"
        + " WHERE v.instance_uuid = ? AND v.status <> 'deleted'"
        + " ORDER BY CASE WHEN v.boot_index = 0 THEN 0 ELSE 1 END, v.device",
        rs -> new Attached(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
            rs.getString(4), rs.getInt(5), rs.getLong(6), rs.getBoolean(7), rs.getString(8),
            rs.getString(9), rs.getString(10)), instanceUuid);
  }

  public List<VolumeEntity> ofInstance(Session session, UUID instanceUuid) {
    return session.createSelectionQuery(
            "from VolumeEntity where instanceUuid = :uuid and status <> 'deleted'"
                + " order by case when bootIndex = 0 then 0 else 1 end, device",
            VolumeEntity.class)
        .setParameter("uuid", instanceUuid)
        .getResultList();
  }

  public Optional<VolumeEntity> find(Session session, UUID id) {
    return Optional.ofNullable(session.find(VolumeEntity.class, id));
  }

  public void insertSnapshot(Session session, VolumeSnapshotEntity snapshot) {
    session.persist(snapshot);
  }

  public Optional<VolumeSnapshotEntity> findSnapshot(Session session, UUID id) {
    return Optional.ofNullable(session.find(VolumeSnapshotEntity.class, id));
  }

  /** Whether any volume snapshot was taken of the volume (an image depends on it). */
  public boolean hasSnapshots(Session session, UUID volumeId) {
    return session.createSelectionQuery(
            "select count(*) from VolumeSnapshotEntity where volumeId = :v", Long.class)
        .setParameter("v", volumeId)
        .getSingleResult() > 0;
  }

  /**
   * After the instance was deleted: its delete_on_termination volumes without snapshots
   * are gone (the agent removed them), the others stay {@code available}.
   */
  public void detachAll(Session session, UUID instanceUuid, java.time.Instant now) {
    for (VolumeEntity v : ofInstance(session, instanceUuid)) {
      v.setStatus(v.deleteOnTermination() && !hasSnapshots(session, v.id()) ? "deleted" : "available",
          now);
    }
  }

  /** The volumes (not deleted) cloned from any of the volume snapshots {@code snapshotIds}. */
  public List<VolumeEntity> clonedFrom(Session session, java.util.Collection<String> snapshotIds) {
    return session.createSelectionQuery(
            "from VolumeEntity where sourceType = 'snapshot' and sourceId in (:ids)"
                + " and status <> 'deleted' order by createdAt", VolumeEntity.class)
        .setParameterList("ids", snapshotIds)
        .getResultList();
  }

  public void deleteSnapshot(Session session, UUID id) {
    findSnapshot(session, id).ifPresent(session::remove);
  }

  /** The volume snapshots an image's block_device_mapping lists. */
  public List<VolumeSnapshotEntity> snapshotsOfImage(Session session, String imageId) {
    return session.createSelectionQuery(
            "from VolumeSnapshotEntity where imageId = :image order by id", VolumeSnapshotEntity.class)
        .setParameter("image", imageId)
        .getResultList();
  }

  /** Images that own volume snapshots recorded more than {@code age} ago (database clock). */
  public List<String> imagesWithSnapshotsOlderThan(Session session, java.time.Duration age) {
    return session.createNativeQuery("SELECT DISTINCT image_id FROM volume_snapshots WHERE"
            + " created_at < clock_timestamp() - make_interval(secs => :age)", String.class)
        .setParameter("age", age.toMillis() / 1000.0)
        .getResultList();
  }
}
