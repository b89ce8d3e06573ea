package io.stratus.conductor.compute;

import io.grpc.StatusRuntimeException;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.VolumeSnapshotEntity;
import io.stratus.conductor.db.VolumeStore;
import io.stratus.conductor.hosts.AgentClients;
import io.stratus.conductor.image.ImageRegistry;
import io.stratus.proto.agent.v1.DeleteVolumeSnapshotsRequest;
import io.stratus.proto.agent.v1.TaskResult;
import io.stratus.proto.agent.v1.VolumeSnapshotsResult;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The conductor's last step of a createImage, after the agent's result: a volume-backed
 * snapshot's volume snapshots are recorded and its image completed (block_device_mapping,
 * active with size 0); an image snapshot's image must be active (the gateway verified its
 * content). And the undo of a failed one (Nova's delete_image_on_error): the image deleted
 * unless active, the volume snapshots taken for it removed in Ceph and their rows deleted.
 */
final class SnapshotCompletion {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotCompletion.class);

  private final Database db;
  private final VolumeStore volumes = new VolumeStore();
  private final ImageRegistry images;
  private final AgentClients agents;
  private final Clock clock;
  /** How long the completion waits out an image-gateway that is restarting. */
  static final java.time.Duration GATEWAY_PATIENCE = java.time.Duration.ofSeconds(90);

  SnapshotCompletion(Database db, ImageRegistry images, AgentClients agents, Clock clock) {
    this.db = db;
    this.images = images;
    this.agents = agents;
    this.clock = clock;
  }

  /**
   * Completes the snapshot the agent reports done; returns null when the image is active,
   * else why not (the caller then fails the task and {@link #undo}es it).
   */
  String complete(AgentTask task, TaskResult result) {
    if (result.hasVolumeSnapshots()) {
      try {
        recordVolumeSnapshots(task, result.getVolumeSnapshots());
      } catch (RuntimeException e) {
        removeVolumeSnapshots(task, result.getVolumeSnapshots());
        return "volume snapshots taken, but the image could not be completed: " + e.getMessage();
      }
    }
    ImageRegistry.Status status = safeStatus(task.imageId());
    return status == ImageRegistry.Status.ACTIVE ? null
        : "agent reported success but image " + task.imageId() + " is "
            + (status == null ? "missing" : status);
  }

  private void recordVolumeSnapshots(AgentTask task, VolumeSnapshotsResult result) {
    Instant now = clock.instant();
    List<VolumeSnapshotEntity> rows = result.getSnapshotsList().stream()
        .map(v -> new VolumeSnapshotEntity(UUID.randomUUID(), UUID.fromString(v.getVolumeId()),
            task.imageId(), v.getSnapshot(), v.getSize(), now))
        .toList();
    db.run(s -> rows.forEach(row -> volumes.insertSnapshot(s, row)));
    withGateway(() -> {
      images.activateEmpty(task.imageId(),
          VolumePlan.imageProperties(rows, result.getSnapshotsList()));
      return null;
    });
    LOG.info("volume-backed snapshot recorded; instance={} image={} volumes={} quiesced={}"
            + " frozen_ms={}", task.uuid(), task.imageId(), rows.size(), result.getQuiesced(),
        result.getFrozenMs());
  }

  /**
   * Removes the volume snapshots of an image that will not become active: their rows, and
   * the RBD snapshots through the instance's agent. Failures are logged; the image's
   * deletion (by an operator or the garbage collector) retries through {@link
   * SnapshotImages}.
   */
  private void removeVolumeSnapshots(AgentTask task, VolumeSnapshotsResult taken) {
    try {
      db.run(s -> volumes.snapshotsOfImage(s, task.imageId())
          .forEach(row -> volumes.deleteSnapshot(s, row.id())));
      var snapshots = taken.getSnapshotsList();
      if (!snapshots.isEmpty()) {
        io.stratus.proto.agent.v1.ComputeAgentGrpc.newBlockingStub(
                agents.stub(task.host(), task.hostAddress()).getChannel())
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .deleteVolumeSnapshots(DeleteVolumeSnapshotsRequest.newBuilder()
                .addAllSnapshots(snapshots).build());
      }
      LOG.info("removed the volume snapshots of a snapshot that failed; instance={} image={}"
          + " snapshots={}", task.uuid(), task.imageId(), snapshots.size());
    } catch (RuntimeException e) {
      LOG.error("could not remove the volume snapshots of a failed snapshot; instance={}"
          + " image={} status={}", task.uuid(), task.imageId(),
          e instanceof StatusRuntimeException sre ? sre.getStatus() : e.toString());
    }
  }

  /** Deletes a failed snapshot's image unless it became active; false if that failed. */
  boolean undo(AgentTask task) {
    if (task.imageId() == null) {
      return true;
    }
    try {
      if (withGateway(() -> images.status(task.imageId()))
          .filter(st -> st == ImageRegistry.Status.ACTIVE).isEmpty()) {
        withGateway(() -> {
          images.delete(task.imageId());
          return null;
        });
        LOG.info("deleted image of failed snapshot; instance={} image={}",
            task.uuid(), task.imageId());
      }
      return true;
    } catch (RuntimeException e) {
      LOG.error("could not delete image of failed snapshot; instance={} image={}",
          task.uuid(), task.imageId(), e);
      return false;
    }
  }

  private ImageRegistry.Status safeStatus(String imageId) {
    try {
      return withGateway(() -> images.status(imageId)).orElse(null);
    } catch (RuntimeException e) {
      return null;
    }
  }

  /**
   * Runs a gateway call, trying again every second while the gateway is unavailable (a
   * restart) for up to {@link #GATEWAY_PATIENCE}; other failures at once.
   */
  private static <T> T withGateway(java.util.function.Supplier<T> call) {
    long deadline = System.nanoTime() + GATEWAY_PATIENCE.toNanos();
    while (true) {
      try {
        return call.get();
      } catch (io.stratus.support.errors.ApiException e) {
        if (e.kind() != io.stratus.support.errors.ApiException.Kind.UNAVAILABLE
            || System.nanoTime() > deadline) {
          throw e;
        }
        LOG.warn("image-gateway unavailable, trying again in 1 s: {}", e.getMessage());
        try {
          Thread.sleep(1000);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }
}
