package io.stratus.agent;

import io.stratus.agent.disk.QemuImg;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.rbd.RbdDisks;
import io.stratus.ceph.RbdException;
import io.stratus.agent.tasks.SnapshotTask;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Start-up clean-up of what a crashed agent left (SPEC §4 Recovery, issue 7): a snapshot
 * overlay still on top of a running guest's disk is committed back and deleted; overlay
 * files no guest uses any more and partial base-image downloads are removed.
 */
public final class Recovery {
  private static final Logger LOG = LoggerFactory.getLogger(Recovery.class);

  private Recovery() {}

  /** Runs once before the agent serves; returns how many overlays were committed. */
  public static int run(Hypervisor hv, Path instancesDir, Path imageCacheDir) throws IOException {
    int committed = 0;
    for (Hypervisor.DomainInfo d : hv.list()) {
      for (Hypervisor.DiskInfo disk : hv.disks(d.uuid())) {
        if (disk.source() == null
            || !disk.source().getFileName().toString().contains(SnapshotTask.OVERLAY_MARK)) {
          continue;
        }
        LOG.warn("committing a snapshot overlay left by a crash; instance={} overlay={} power={}",
            d.uuid(), disk.source(), d.power());
        if (d.power() == Hypervisor.Power.RUNNING || d.power() == Hypervisor.Power.PAUSED) {
          hv.commitActive(d.uuid(), disk.target(), Duration.ofMinutes(30));
        } else {
          // Shut off: commit offline; the next power-on regenerates the definition from
          // the instance record, which names the original disk again.
          QemuImg.commit(disk.source());
        }
        Files.deleteIfExists(disk.source());
        committed++;
      }
    }
    if (Files.isDirectory(instancesDir)) {
      try (Stream<Path> files = Files.walk(instancesDir, 2)) {
        // Everything referenced was committed above; what is left no guest uses.
        for (Path p : files.filter(p -> p.getFileName().toString().contains(SnapshotTask.OVERLAY_MARK)).toList()) {
          LOG.warn("removing an orphaned snapshot overlay; file={}", p);
          Files.deleteIfExists(p);
        }
      }
    }
    if (Files.isDirectory(imageCacheDir)) {
      try (Stream<Path> files = Files.list(imageCacheDir)) {
        for (Path p : files.filter(p -> p.getFileName().toString().endsWith(".part")).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
    return committed;
  }

  /**
   * Removes the RBD snapshots a crashed createImage left on the disks of this host's
   * instances (nothing runs yet, so none is in use). One that a clone still depends on (a
   * direct import the gateway did not finish) is kept and logged. Returns how many were
   * removed.
   */
  public static int removeRbdSnapshots(Hypervisor hv, RbdDisks disks) throws IOException {
    int removed = 0;
    for (Hypervisor.DomainInfo d : hv.list()) {
      for (String snap : disks.snapshotsOf(d.uuid())) {
        try {
          disks.removeSnapshot(d.uuid(), snap);
          removed++;
          LOG.warn("removed an rbd snapshot left by a crash; instance={} snapshot={}", d.uuid(), snap);
        } catch (RbdException e) {
          LOG.error("could not remove an rbd snapshot left by a crash; instance={} snapshot={}",
              d.uuid(), snap, e);
        }
      }
    }
    return removed;
  }
}
