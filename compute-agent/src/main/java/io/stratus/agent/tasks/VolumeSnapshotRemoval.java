package io.stratus.agent.tasks;

import io.stratus.agent.rbd.RbdDisks;
import io.stratus.proto.agent.v1.VolumeSnapshot;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes the volume snapshots of a deleted volume-backed snapshot image — all or nothing
 * as far as Ceph allows: every snapshot is checked for clones first (a volume booted from
 * the image still reads from it), and only then are they unprotected and removed.
 */
public final class VolumeSnapshotRemoval {
  private static final Logger LOG = LoggerFactory.getLogger(VolumeSnapshotRemoval.class);

  private VolumeSnapshotRemoval() {}

  /** Returns how many snapshots existed and were removed. */
  public static int run(RbdDisks disks, List<VolumeSnapshot> snapshots) throws IOException {
    for (VolumeSnapshot s : snapshots) {
      List<String> clones = disks.clonesOf(s.getPool(), s.getImage(), s.getSnapshot());
      if (!clones.isEmpty()) {
        throw ApiException.failedPrecondition("volume snapshot " + spec(s) + " still has clones "
            + clones + ": a volume made from it depends on it; nothing was removed");
      }
    }
    int removed = 0;
    for (VolumeSnapshot s : snapshots) {
      if (disks.volumeSnapshots(s.getPool(), s.getImage()).contains(s.getSnapshot())) {
        disks.removeVolumeSnapshot(s.getPool(), s.getImage(), s.getSnapshot());
        removed++;
        LOG.info("volume snapshot removed; snapshot={}", spec(s));
      }
    }
    return removed;
  }

  private static String spec(VolumeSnapshot s) {
    return s.getPool() + "/" + s.getImage() + "@" + s.getSnapshot();
  }
}
