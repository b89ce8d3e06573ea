package io.stratus.agent.tasks;

import io.stratus.agent.disk.ExtentPlan;
import io.stratus.agent.disk.NbdStreamReader;
import io.stratus.agent.disk.QemuImg;
import io.stratus.agent.disk.SnapshotStreamer;
import io.stratus.agent.hypervisor.Hypervisor;
import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.agent.ops.Task;
import io.stratus.agent.ops.TaskContext;
import io.stratus.agent.quiesce.GuestFreeze;
import io.stratus.agent.quiesce.Quiesce;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.SnapshotResult;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskState;
import io.stratus.support.errors.ApiException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * createImage on the host (SPEC §4 steps 3–5, §6):
 *
 * <pre>
 *   wait for a snapshot slot ─► image_snapshot
 *   make the disk chain immutable:
 *     LIVE   (running, live allowed)  external disk-only snapshot; guest writes to an overlay
 *     PAUSED (paused)                 the same; the guest stays paused
 *     COLD   (running, live refused)  managed save: memory to disk, files closed
 *     OFF    (shut off)               already immutable
 *   ─► image_pending_upload: extent map from qemu-img ─► image_uploading: stream the bytes
 *   finally: LIVE/PAUSED commit the overlay back (active commit + pivot) and delete it;
 *            COLD restore the guest from its managed save — always, whatever failed
 * </pre>
 */
public final class SnapshotTask implements Task {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotTask.class);
  private static final Duration COMMIT_TIMEOUT = Duration.ofMinutes(30);
  /** Marks overlays made by snapshots, so recovery can find and commit leftovers. */
  public static final String OVERLAY_MARK = ".stratus-snap-";

  /** How the chain was made immutable. */
  enum Mode {
    LIVE,
    PAUSED,
    COLD,
    OFF
  }

  private final AgentEnv env;
  private final InstanceSpec spec;
  private final String operationId;
  private final String imageId;
  private final boolean allowLive;
  private final boolean requireQuiesce;
  private final Duration freezeTimeout;
  /** What quiesce did for this snapshot: set when the chain was made immutable. */
  private boolean quiesced;
  private long frozenMs;
  private String quiesceError = "";

  public SnapshotTask(AgentEnv env, InstanceSpec spec, String operationId, String imageId,
      boolean allowLive) {
    this(env, spec, operationId, imageId, allowLive, false, Duration.ZERO);
  }

  /**
   * @param requireQuiesce the image requires quiesce (os_require_quiesce): a live snapshot
   *     that cannot freeze the guest fails before anything is taken
   * @param freezeTimeout the longest the guest stays frozen (zero: the default)
   */
  public SnapshotTask(AgentEnv env, InstanceSpec spec, String operationId, String imageId,
      boolean allowLive, boolean requireQuiesce, Duration freezeTimeout) {
    this.env = env;
    this.spec = spec;
    this.operationId = operationId;
    this.imageId = imageId;
    this.allowLive = allowLive;
    this.requireQuiesce = requireQuiesce;
    this.freezeTimeout = freezeTimeout;
  }

  @Override
  public TaskResult run(TaskContext ctx) throws Exception {
    return env.inSnapshotSlot(() -> snapshot(ctx));
  }

  private TaskResult snapshot(TaskContext ctx) throws Exception {
    Hypervisor hv = env.hypervisor();
    String uuid = spec.getUuid();
    Hypervisor.DomainInfo domain = hv.find(uuid).orElseThrow(() -> new HypervisorException(
        HypervisorException.Kind.NO_DOMAIN, "instance " + uuid + " has no domain on this host", null));
    ctx.transition(TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING, TaskState.TASK_STATE_IMAGE_SNAPSHOT,
        "snapshot started");
    Path source = hv.disks(uuid).stream().filter(d -> d.target().equals("vda")).findFirst()
        .orElseThrow(() -> new HypervisorException(HypervisorException.Kind.FAILED,
            "instance " + uuid + " has no vda disk", null))
        .source();
    Mode mode = switch (domain.power()) {
      case RUNNING -> allowLive && env.config().liveSnapshots() ? Mode.LIVE : Mode.COLD;
      case PAUSED -> Mode.PAUSED;
      default -> Mode.OFF;
    };
    Path overlay = source.resolveSibling(source.getFileName() + OVERLAY_MARK + operationId);
    mode = freeze(hv, uuid, mode, overlay);
    LOG.info("snapshot chain frozen; instance={} image={} mode={} disk={}", uuid, imageId, mode, source);
    boolean succeeded = false;
    try {
      ctx.checkCancelled();
      ctx.transition(TaskState.TASK_STATE_IMAGE_SNAPSHOT, TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
          mode.name().toLowerCase(java.util.Locale.ROOT) + " snapshot");
      SnapshotStreamer.Sent sent;
      ExtentPlan plan = null;
      try {
        plan = ExtentPlan.of(source, 4 << 20);
      } catch (ExtentPlan.UnsupportedExtentException e) {
        LOG.info("disk cannot be read directly ({}), reading it through qemu-nbd; instance={}",
            e.getMessage(), uuid);
      }
      if (plan != null) {
        ctx.transition(TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
            TaskState.TASK_STATE_IMAGE_UPLOADING, "uploading " + plan.dataBytes() + " bytes");
        sent = env.streamer().upload(imageId, operationId, plan, ctx);
      } else {
        QemuImg.ChainLink top = QemuImg.chain(source).get(0);
        ctx.transition(TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
            TaskState.TASK_STATE_IMAGE_UPLOADING, "uploading through qemu-nbd");
        sent = env.streamer().upload(imageId, operationId,
            () -> NbdStreamReader.open(source, top.format(), top.virtualSize()),
            top.virtualSize(), top.virtualSize(), ctx);
      }
      var image = sent.response().getImage();
      TaskResult result = TaskResult.newBuilder()
          .setSnapshot(SnapshotResult.newBuilder()
              .setImageId(imageId)
              .setLive(mode == Mode.LIVE)
              .setSize(image.getSize())
              .setVirtualSize(image.getVirtualSize())
              .setChecksum(image.getChecksum())
              .setOsHashValue(image.getOsHashValue())
              .setBytesSent(sent.bytesSent())
              .setQuiesced(quiesced)
              .setFrozenMs(frozenMs)
              .setQuiesceError(quiesceError))
          .setPowerState(PowerStates.proto(thaw(hv, uuid, mode, overlay)))
          .setDetails(mode + " snapshot, " + sent.bytesSent() + " bytes sent"
              + (quiesced ? ", quiesced (frozen " + frozenMs + " ms)" : ""))
          .build();
      succeeded = true;
      return result;
    } finally {
      if (!succeeded) {
        // The failure that got us here is what the caller must see; a failing thaw is
        // logged, never allowed to replace it.
        try {
          thaw(hv, uuid, mode, overlay);
        } catch (RuntimeException e) {
          LOG.warn("could not restore the guest after a failed snapshot; instance={} mode={}",
              uuid, mode, e);
        }
      }
    }
  }

  /** Makes the chain immutable; falls back to COLD where disk-only snapshots are unsupported. */
  private Mode freeze(Hypervisor hv, String uuid, Mode mode, Path overlay) {
    switch (mode) {
      case LIVE, PAUSED -> {
        try {
          if (mode == Mode.LIVE) {
            snapshotQuiesced(hv, uuid, overlay);
          } else {
            hv.snapshotDiskOnly(uuid, "vda", overlay);
          }
          return mode;
        } catch (HypervisorException e) {
          if (e.kind() != HypervisorException.Kind.UNSUPPORTED || mode == Mode.PAUSED) {
            throw e;
          }
          LOG.info("live snapshot unsupported by {}, taking it cold; instance={}", hv.uri(), uuid);
          hv.managedSave(uuid);
          return Mode.COLD;
        }
      }
      case COLD -> {
        hv.managedSave(uuid);
        return mode;
      }
      default -> {
        return mode;
      }
    }
  }

  /**
   * The external disk-only snapshot of a running guest, with its filesystems frozen around
   * it when it has a guest agent (Nova's quiesce; see {@link Quiesce}). The freeze lasts as
   * long as making the overlay, not the upload. A freeze the timer had to undo before the
   * overlay was made is no quiesce: with quiesce required the overlay is committed back and
   * the snapshot fails.
   */
  private void snapshotQuiesced(Hypervisor hv, String uuid, Path overlay) {
    Quiesce.Outcome q;
    try {
      q = Quiesce.maybeFreeze(hv, uuid, env.instanceDir(uuid), Hypervisor.Power.RUNNING,
          spec.getGuestAgent(), requireQuiesce, freezeTimeout);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    if (!q.quiesced()) {
      quiesceError = q.notQuiescedBecause();
      hv.snapshotDiskOnly(uuid, "vda", overlay);
      return;
    }
    try (GuestFreeze freeze = q.freeze()) {
      hv.snapshotDiskOnly(uuid, "vda", overlay);
      freeze.close();
      frozenMs = freeze.frozenMillis();
      quiesced = !freeze.autoThawed();
    }
    LOG.info("live snapshot quiesced; instance={} frozen_ms={} thawed_by_timer={}", uuid,
        frozenMs, !quiesced);
    if (!quiesced) {
      quiesceError = "the freeze timeout thawed the guest before its disk was snapshotted";
      if (requireQuiesce) {
        hv.commitActive(uuid, "vda", COMMIT_TIMEOUT);
        deleteOverlay(uuid, overlay);
        throw ApiException.failedPrecondition("quiesce is required (os_require_quiesce) but "
            + quiesceError);
      }
    }
  }

  private boolean thawed;

  /**
   * Returns the guest to its earlier state; safe to call twice. If the domain vanished
   * meanwhile (the instance was deleted), there is no guest to return to: the overlay is
   * removed and the snapshot fails with NO_DOMAIN.
   */
  private Hypervisor.Power thaw(Hypervisor hv, String uuid, Mode mode, Path overlay) {
    if (!thawed) {
      thawed = true;
      try {
        switch (mode) {
          case LIVE, PAUSED -> hv.commitActive(uuid, "vda", COMMIT_TIMEOUT);
          case COLD -> hv.start(uuid);
          case OFF -> { }
        }
      } catch (HypervisorException e) {
        var now = hv.find(uuid);
        boolean stillRuns = now.isPresent() && (now.get().power() == Hypervisor.Power.RUNNING
            || now.get().power() == Hypervisor.Power.PAUSED);
        if (stillRuns || mode == Mode.COLD || mode == Mode.OFF) {
          throw e;
        }
        if (now.isPresent()) {
          // Stopped behind our back: keep the guest's writes by committing offline; the
          // next power-on regenerates the definition, which names the original disk.
          try {
            QemuImg.commit(overlay);
          } catch (java.io.IOException io) {
            throw new HypervisorException(HypervisorException.Kind.FAILED, "instance " + uuid
                + " stopped during the snapshot and its overlay could not be committed: "
                + io.getMessage(), io);
          }
        }
        deleteOverlay(uuid, overlay);
        throw new HypervisorException(HypervisorException.Kind.NO_DOMAIN,
            "instance " + uuid + (now.isPresent() ? " stopped" : " vanished")
                + " during the snapshot", e);
      }
      if (mode == Mode.LIVE || mode == Mode.PAUSED) {
        deleteOverlay(uuid, overlay);
      }
    }
    if (hv.find(uuid).isEmpty()) {
      throw new HypervisorException(HypervisorException.Kind.NO_DOMAIN,
          "instance " + uuid + " vanished during the snapshot", null);
    }
    return PowerStates.current(hv, uuid);
  }

  private static void deleteOverlay(String uuid, Path overlay) {
    try {
      Files.deleteIfExists(overlay);
    } catch (java.io.IOException e) {
      LOG.warn("could not delete the snapshot overlay; instance={} overlay={}", uuid, overlay);
    }
  }
}
