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

  /** The volume snapshots an image's block_device_mapping lists. */
  public List<VolumeSnapshotEntity> snapshotsOfImage(Session session, String imageId) {
    return session.createSelectionQuery(
            "from VolumeSnapshotEntity where imageId = :image order by id", VolumeSnapshotEntity.class)
        .setParameter("image", imageId)
        .getResultList();
  }
}
