package io.stratus.agent.tasks;

import io.stratus.agent.rbd.RbdDisks;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.Volume;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The volumes of a volume-backed instance (Nova boot from volume): created at boot when
 * they do not exist yet — a clone of a volume snapshot (booting from a volume-backed
 * snapshot image), a clone or import of an image, or blank — and removed at delete when
 * they are delete_on_termination.
 */
final class VolumeDisks {
  private static final Logger LOG = LoggerFactory.getLogger(VolumeDisks.class);

  private VolumeDisks() {}

  /** Creates the missing volumes; returns how, for the task's details. */
  static String ensure(AgentEnv env, InstanceSpec spec) throws IOException {
    RbdDisks disks = env.rbdDisks();
    List<String> made = new ArrayList<>();
    for (Volume v : spec.getVolumesList()) {
      if (disks.volumeExists(v.getPool(), v.getImage())) {
        continue;
      }
      if (!v.getSourceSnapshot().isEmpty()) {
        Snap s = Snap.parse(v.getSourceSnapshot());
        disks.cloneVolume(s.pool(), s.image(), s.snapshot(), v.getPool(), v.getImage());
        disks.growVolume(v.getPool(), v.getImage(), v.getSizeBytes());
        made.add(v.getDevice() + " from " + v.getSourceSnapshot());
      } else if (!v.getSourceImage().isEmpty()) {
        made.add(v.getDevice() + " " + RbdRootDisk.fromImage(env, v.getSourceImage(), v.getPool(),
            v.getImage(), v.getSizeBytes()));
      } else {
        if (v.getSizeBytes() <= 0) {
          throw ApiException.invalidArgument("instance.volumes.size_bytes",
              "a blank volume needs a size (volume " + v.getId() + ")");
        }
        disks.createVolume(v.getPool(), v.getImage(), v.getSizeBytes());
        made.add(v.getDevice() + " blank");
      }
      LOG.info("volume created; instance={} volume={} rbd={}/{}", spec.getUuid(), v.getId(),
          v.getPool(), v.getImage());
    }
    return made.isEmpty() ? "existing volumes" : "volumes: " + String.join(", ", made);
  }

  /**
   * Removes the delete_on_termination volumes. One that still has snapshots (an image was
   * made from it) is kept: removing it would break that image.
   */
  static List<String> removeOnTermination(AgentEnv env, InstanceSpec spec) throws IOException {
    List<String> kept = new ArrayList<>();
    for (Volume v : spec.getVolumesList()) {
      if (!v.getDeleteOnTermination()) {
        continue;
      }
      RbdDisks disks = env.rbdDisks();
      List<String> snaps = disks.volumeSnapshots(v.getPool(), v.getImage());
      if (!snaps.isEmpty()) {
        LOG.warn("volume kept: images depend on its snapshots; instance={} volume={} snapshots={}",
            spec.getUuid(), v.getId(), snaps);
        kept.add(v.getId());
        continue;
      }
      disks.removeVolume(v.getPool(), v.getImage());
    }
    return kept;
  }

  /** {@code pool/image@snapshot}. */
  record Snap(String pool, String image, String snapshot) {
    static Snap parse(String spec) {
      int slash = spec.indexOf('/');
      int at = spec.indexOf('@');
      if (slash <= 0 || at <= slash + 1 || at == spec.length() - 1) {
        throw ApiException.invalidArgument("instance.volumes.source_snapshot",
            "'" + spec + "' is not pool/image@snapshot");
      }
      return new Snap(spec.substring(0, slash), spec.substring(slash + 1, at), spec.substring(at + 1));
    }
  }
}
