package io.stratus.agent.tasks;

import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.agent.ops.Task;
import io.stratus.agent.ops.TaskContext;
import io.stratus.agent.quiesce.GuestFreeze;
import io.stratus.agent.quiesce.Quiesce;
import io.stratus.agent.rbd.RbdDisks;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskState;
import io.stratus.proto.agent.v1.Volume;
import io.stratus.proto.agent.v1.VolumeSnapshot;
import io.stratus.proto.agent.v1.VolumeSnapshotsResult;
import io.stratus.support.errors.ApiException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * createImage of a volume-backed instance on the host (Nova {@code snapshot_volume_backed}):
 *
 * <pre>
 *   image_snapshot_pending ─► image_snapshot:
 *     running guest with a guest agent: freeze its filesystems (auto-thaw timer + marker)
 *       failure: tolerated (crash-consistent snapshots) unless require_quiesce
 *     RBD snapshot (protected) of every volume
 *     thaw — always (try-with-resources)
 *   any failure: the snapshots taken so far are removed — nothing kept
 *   ─► image_pending_upload; result: the volume snapshots, quiesced or not, frozen time
 * </pre>
 *
 * The conductor turns the result into an image of size 0 whose properties list the
 * snapshots (block_device_mapping), as Nova does.
 */
public final class VolumeSnapshotTask implements Task {
  private static final Logger LOG = LoggerFactory.getLogger(VolumeSnapshotTask.class);

  private final AgentEnv env;
  private final InstanceSpec spec;
  private final String snapshotName;
  private final boolean requireQuiesce;
  private final Duration freezeTimeout;

  public VolumeSnapshotTask(AgentEnv env, InstanceSpec spec, String snapshotName,
      boolean requireQuiesce, int freezeTimeoutSeconds) {
    this.env = env;
    this.spec = spec;
    this.snapshotName = snapshotName;
    this.requireQuiesce = requireQuiesce;
    this.freezeTimeout = freezeTimeoutSeconds > 0
        ? Duration.ofSeconds(freezeTimeoutSeconds) : Quiesce.DEFAULT_FREEZE_TIMEOUT;
  }

  @Override
  public TaskResult run(TaskContext ctx) throws Exception {
    return env.inSnapshotSlot(() -> snapshot(ctx));
  }

  private TaskResult snapshot(TaskContext ctx) throws Exception {
    String uuid = spec.getUuid();
    Hypervisor hv = env.hypervisor();
    Hypervisor.DomainInfo domain = hv.find(uuid).orElseThrow(() -> new HypervisorException(
        HypervisorException.Kind.NO_DOMAIN, "instance " + uuid + " has no domain on this host", null));
    RbdDisks disks = env.rbdDisks();
    ctx.transition(TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING, TaskState.TASK_STATE_IMAGE_SNAPSHOT,
        "volume snapshots");
    VolumeSnapshotsResult.Builder result = VolumeSnapshotsResult.newBuilder();
    List<VolumeSnapshot> taken = new ArrayList<>();
    GuestFreeze freeze = quiesce(hv, uuid, domain, result);
    boolean done = false;
    try {
      for (Volume v : spec.getVolumesList()) {
        ctx.checkCancelled();
        disks.snapshotVolume(v.getPool(), v.getImage(), snapshotName);
        taken.add(VolumeSnapshot.newBuilder().setVolumeId(v.getId()).setPool(v.getPool())
            .setImage(v.getImage()).setSnapshot(snapshotName).setDevice(v.getDevice())
            .setBootIndex(v.getBootIndex()).setSize(disks.volumeSize(v.getPool(), v.getImage()))
            .build());
      }
      if (freeze != null) {
        freeze.close();
        result.setFrozenMs(freeze.frozenMillis());
        if (freeze.autoThawed()) {
          result.setQuiesced(false).setQuiesceError("the freeze timeout (" + freezeTimeout
              + ") thawed the guest before every volume was snapshotted");
          if (requireQuiesce) {
            throw ApiException.failedPrecondition("quiesce is required (os_require_quiesce)"
                + " but " + result.getQuiesceError());
          }
        }
      }
      done = true;
    } finally {
      if (freeze != null) {
        freeze.close();
      }
      if (!done) {
        for (VolumeSnapshot s : taken) {
          try {
            disks.removeVolumeSnapshot(s.getPool(), s.getImage(), s.getSnapshot());
          } catch (Exception e) {
            LOG.error("could not remove a volume snapshot of a failed createImage; instance={}"
                + " snapshot={}/{}@{}", uuid, s.getPool(), s.getImage(), s.getSnapshot(), e);
          }
        }
      }
    }
    result.addAllSnapshots(taken);
    ctx.transition(TaskState.TASK_STATE_IMAGE_SNAPSHOT, TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
        "volume snapshots taken");
    LOG.info("volume snapshots taken; instance={} volumes={} quiesced={} frozen_ms={} error={}",
        uuid, taken.size(), result.getQuiesced(), result.getFrozenMs(), result.getQuiesceError());
    return TaskResult.newBuilder()
        .setVolumeSnapshots(result)
        .setPowerState(PowerStates.proto(PowerStates.current(hv, uuid)))
        .setDetails(taken.size() + " volume snapshots" + (result.getQuiesced()
            ? ", quiesced (frozen " + result.getFrozenMs() + " ms)" : ", not quiesced"))
        .build();
  }

  /**
   * Freezes the guest when it runs and has a guest agent; returns null (and records why
   * in the result) when it was not frozen — FAILED_PRECONDITION instead when required.
   */
  private GuestFreeze quiesce(Hypervisor hv, String uuid, Hypervisor.DomainInfo domain,
      VolumeSnapshotsResult.Builder result) throws Exception {
    Quiesce.Outcome q = Quiesce.maybeFreeze(hv, uuid, env.instanceDir(uuid), domain.power(),
        spec.getGuestAgent(), requireQuiesce, freezeTimeout);
    result.setQuiesced(q.quiesced());
    if (!q.quiesced()) {
      result.setQuiesceError(q.notQuiescedBecause());
    }
    return q.freeze();
  }
}
