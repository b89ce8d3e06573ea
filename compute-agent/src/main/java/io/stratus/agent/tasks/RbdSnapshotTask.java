package io.stratus.agent.tasks;

import io.grpc.StatusRuntimeException;
import io.stratus.agent.hypervisor.HypervisorException;
import io.stratus.agent.ops.Task;
import io.stratus.agent.ops.TaskContext;
import io.stratus.agent.rbd.RbdDisks;
import io.stratus.agent.rbd.RbdSnapshotReader;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.agent.v1.SnapshotResult;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.TaskState;
import io.stratus.proto.image.v1.GetStoreInfoRequest;
import io.stratus.proto.image.v1.GetStoreInfoResponse;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.ImportRbdCloneRequest;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * createImage of an instance whose root disk is an RBD image (SPEC §4 step 6, Nova's
 * {@code direct_snapshot}):
 *
 * <pre>
 *   wait for a snapshot slot ─► image_snapshot: RBD snapshot stratus-snap-OP of UUID_disk
 *     (the guest keeps running: crash-consistent), protected
 *   ─► image_pending_upload ─► image_uploading:
 *     DIRECT   the gateway's store is this Ceph cluster: ImportRbdClone (clone into the
 *              image pool, flatten, protected snap) — no bytes pass through the agent
 *     STREAM   any other store, or the direct import refused (FAILED_PRECONDITION):
 *              read the snapshot sparse (allocation from rbd_diff_iterate2) and upload it
 *   finally: unprotect + remove the snapshot — always, whatever failed
 * </pre>
 *
 * Unlike Nova, which turns a refused direct snapshot into a cold one, the fallback never
 * pauses the guest: reading an RBD snapshot is safe while the guest writes.
 */
public final class RbdSnapshotTask implements Task {
  private static final Logger LOG = LoggerFactory.getLogger(RbdSnapshotTask.class);

  private final AgentEnv env;
  private final InstanceSpec spec;
  private final String operationId;
  private final String imageId;

  public RbdSnapshotTask(AgentEnv env, InstanceSpec spec, String operationId, String imageId) {
    this.env = env;
    this.spec = spec;
    this.operationId = operationId;
    this.imageId = imageId;
  }

  /** The name of the disk snapshot an operation takes. */
  public static String snapshotName(String operationId) {
    return RbdDisks.SNAPSHOT_MARK + operationId;
  }

  @Override
  public TaskResult run(TaskContext ctx) throws Exception {
    return env.inSnapshotSlot(() -> snapshot(ctx));
  }

  private TaskResult snapshot(TaskContext ctx) throws Exception {
    RbdDisks disks = env.rbdDisks();
    String uuid = spec.getUuid();
    if (env.hypervisor().find(uuid).isEmpty()) {
      throw new HypervisorException(HypervisorException.Kind.NO_DOMAIN,
          "instance " + uuid + " has no domain on this host", null);
    }
    ctx.transition(TaskState.TASK_STATE_IMAGE_SNAPSHOT_PENDING, TaskState.TASK_STATE_IMAGE_SNAPSHOT,
        "snapshot started");
    String snap = snapshotName(operationId);
    long started = System.nanoTime();
    disks.snapshot(uuid, snap);
    LOG.info("rbd snapshot taken; instance={} image={} snapshot={}/{}@{}", uuid, imageId,
        disks.pool(), RbdDisks.diskName(uuid), snap);
    try {
      ctx.checkCancelled();
      ctx.transition(TaskState.TASK_STATE_IMAGE_SNAPSHOT, TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
          "rbd snapshot");
      Image image = null;
      long bytesSent = 0;
      String path;
      if (sameCluster(disks)) {
        ctx.transition(TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
            TaskState.TASK_STATE_IMAGE_UPLOADING, "direct import (clone + flatten in Ceph)");
        image = directImport(disks, uuid, snap);
      } else {
        ctx.transition(TaskState.TASK_STATE_IMAGE_PENDING_UPLOAD,
            TaskState.TASK_STATE_IMAGE_UPLOADING, "streaming the rbd snapshot");
      }
      if (image != null) {
        path = "direct";
      } else {
        path = "stream";
        long size;
        long dataBytes;
        try (RbdSnapshotReader probe = disks.read(uuid, snap, env.config().readThreads())) {
          size = probe.size();
          dataBytes = probe.dataBytes();
        }
        var sent = env.streamer().upload(imageId, operationId,
            () -> disks.read(uuid, snap, env.config().readThreads()), size, dataBytes, ctx);
        image = sent.response().getImage();
        bytesSent = sent.bytesSent();
      }
      LOG.info("rbd snapshot uploaded; instance={} image={} path={} bytes_sent={} ms={}", uuid,
          imageId, path, bytesSent, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      return TaskResult.newBuilder()
          .setSnapshot(SnapshotResult.newBuilder()
              .setImageId(imageId)
              .setLive(true)
              .setSize(image.getSize())
              .setVirtualSize(image.getVirtualSize())
              .setChecksum(image.getChecksum())
              .setOsHashValue(image.getOsHashValue())
              .setBytesSent(bytesSent))
          .setPowerState(PowerStates.proto(PowerStates.current(env.hypervisor(), uuid)))
          .setDetails("rbd " + path + " snapshot, " + bytesSent + " bytes sent")
          .build();
    } finally {
      // Never masks the failure that got us here: what cannot be removed now is retried
      // in the background (and at the next start).
      disks.removeSnapshotEventually(uuid, snap);
    }
  }

  /** Whether the gateway stores images in this Ceph cluster (the direct path applies). */
  private boolean sameCluster(RbdDisks disks) {
    GetStoreInfoResponse info = ImagesGrpc.newBlockingStub(env.gateway())
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .getStoreInfo(GetStoreInfoRequest.getDefaultInstance());
    boolean same = info.getBackend().equals("rbd") && info.getCephFsid().equalsIgnoreCase(disks.fsid());
    LOG.info("image store is {} (fsid {}), disk cluster {}: {}", info.getBackend(),
        info.getCephFsid(), disks.fsid(), same ? "direct import" : "streaming");
    return same;
  }

  /** The direct import; {@code null} when the gateway refused it (stream instead). */
  private Image directImport(RbdDisks disks, String uuid, String snap) {
    try {
      return ImagesGrpc.newBlockingStub(env.gateway())
          .withDeadlineAfter(6, TimeUnit.HOURS)
          .importRbdClone(ImportRbdCloneRequest.newBuilder()
              .setImageId(imageId)
              .setCephFsid(disks.fsid())
              .setSourcePool(disks.pool())
              .setSourceImage(RbdDisks.diskName(uuid))
              .setSourceSnapshot(snap)
              .build())
          .getImage();
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.FAILED_PRECONDITION) {
        LOG.info("direct import refused, streaming instead; instance={} image={}: {}", uuid,
            imageId, e.getStatus().getDescription());
        return null;
      }
      throw e;
    }
  }
}
