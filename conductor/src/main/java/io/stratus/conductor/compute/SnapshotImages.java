package io.stratus.conductor.compute;

import io.grpc.StatusRuntimeException;
import io.stratus.support.access.ImageVisibility;
import io.stratus.conductor.db.Database;
import io.stratus.conductor.db.HostEntity;
import io.stratus.conductor.db.VolumeEntity;
import io.stratus.conductor.db.VolumeSnapshotEntity;
import io.stratus.conductor.db.VolumeStore;
import io.stratus.conductor.hosts.AgentClients;
import io.stratus.conductor.hosts.HostRegistry;
import io.stratus.conductor.image.ImageRegistry;
import io.stratus.proto.agent.v1.ComputeAgentGrpc;
import io.stratus.proto.agent.v1.DeleteVolumeSnapshotsRequest;
import io.stratus.proto.agent.v1.VolumeSnapshot;
import io.stratus.support.errors.ApiException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes images made by createImage with what they own. A volume-backed snapshot image
 * owns the volume snapshots its block_device_mapping lists: they are removed in Ceph (by
 * an agent of a host with rbd storage) and their records deleted, then the image — or,
 * while a volume cloned from one of them still exists, nothing is deleted and the caller
 * is told which volume holds it (FAILED_PRECONDITION). Any other image is just deleted.
 */
public final class SnapshotImages {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotImages.class);

  private final Database db;
  private final VolumeStore volumes = new VolumeStore();
  private final ImageRegistry images;
  private final HostRegistry hosts;
  private final AgentClients agents;

  public SnapshotImages(Database db, ImageRegistry images, HostRegistry hosts, AgentClients agents) {
    this.db = db;
    this.images = images;
    this.hosts = hosts;
    this.agents = agents;
  }

  /** Deletes the image; returns how many volume snapshots went with it. */
  public int delete(Caller caller, String rawImageId) {
    String imageId = RequestValidator.uuid("image_id", rawImageId).toString();
    String owner = images.find(imageId)
        .filter(i -> ImageVisibility.mutable(i.owner(), caller.projectId(), caller.admin()))
        .map(ImageRegistry.ImageInfo::owner)
        .orElseThrow(() -> ApiException.notFound("image " + imageId + " not found"));
    int released = releaseVolumeSnapshots(imageId);
    images.delete(imageId);
    LOG.info("image deleted; image={} owner={} volume_snapshots={}", imageId, owner, released);
    return released;
  }

  /**
   * Removes the volume snapshots an image owns, in Ceph and their records, unless a volume
   * still depends on one (FAILED_PRECONDITION, nothing removed); returns how many went.
   * For {@link #delete} and for the garbage collection of snapshots whose image is gone.
   */
  public int releaseVolumeSnapshots(String imageId) {
    record Owned(VolumeSnapshotEntity snapshot, VolumeEntity volume) {}
    List<Owned> owned = db.inTransaction(s -> {
      List<Owned> list = new ArrayList<>();
      for (VolumeSnapshotEntity snap : volumes.snapshotsOfImage(s, imageId)) {
        list.add(new Owned(snap, volumes.find(s, snap.volumeId()).orElseThrow()));
      }
      return list;
    });
    if (!owned.isEmpty()) {
      Set<String> ids = owned.stream().map(o -> o.snapshot().id().toString()).collect(Collectors.toSet());
      List<VolumeEntity> dependents = db.inTransaction(s -> volumes.clonedFrom(s, ids));
      if (!dependents.isEmpty()) {
        VolumeEntity v = dependents.get(0);
        throw ApiException.failedPrecondition("image " + imageId + ": volume " + v.id()
            + " (server " + v.instanceUuid() + ", " + v.status() + ") was cloned from its volume"
            + " snapshot " + v.sourceId() + " and still depends on it; delete that server (or"
            + " volume) first. Nothing was deleted");
      }
      removeInCeph(imageId, owned.stream().map(o -> VolumeSnapshot.newBuilder()
          .setPool(o.volume().pool()).setImage(o.volume().rbdImage())
          .setSnapshot(o.snapshot().rbdSnapshot()).build()).toList());
      db.run(s -> owned.forEach(o -> volumes.deleteSnapshot(s, o.snapshot().id())));
    }
    return owned.size();
  }

  private void removeInCeph(String imageId, List<VolumeSnapshot> snapshots) {
    HostEntity host = hosts.pickForBoot("rbd");
    try {
      ComputeAgentGrpc.newBlockingStub(agentChannel(host)).withDeadlineAfter(60, TimeUnit.SECONDS)
          .deleteVolumeSnapshots(DeleteVolumeSnapshotsRequest.newBuilder()
              .addAllSnapshots(snapshots).build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.FAILED_PRECONDITION) {
        throw ApiException.failedPrecondition("image " + imageId + ": "
            + e.getStatus().getDescription());
      }
      throw ApiException.unavailable("host " + host.name() + " could not delete the volume"
          + " snapshots of image " + imageId + ": " + e.getStatus(), e);
    }
  }

  private io.grpc.Channel agentChannel(HostEntity host) {
    return agents.stub(host.name(), host.address()).getChannel();
  }
}
