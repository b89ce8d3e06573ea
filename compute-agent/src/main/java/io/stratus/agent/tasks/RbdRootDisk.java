package io.stratus.agent.tasks;

import io.stratus.agent.disk.ExtentPlan;
import io.stratus.agent.disk.ParallelReader;
import io.stratus.agent.rbd.RbdDisks;
import io.stratus.proto.agent.v1.InstanceSpec;
import io.stratus.proto.image.v1.GetImageRequest;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImagesGrpc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates an instance's RBD root disk at boot (Nova {@code images_type=rbd}): a
 * copy-on-write clone of the image's protected {@code snap} when the image lives in the
 * disks' Ceph cluster (its location is {@code rbd://FSID/POOL/IMAGE/SNAP} with our fsid),
 * else the image fetched into the host cache and imported sparse. Either way the disk is
 * grown to the flavor's root_gb when that is larger.
 */
final class RbdRootDisk {
  private static final Logger LOG = LoggerFactory.getLogger(RbdRootDisk.class);

  /** A parsed {@code rbd://fsid/pool/image/snap} location. */
  record Location(String fsid, String pool, String image, String snapshot) {
    static Optional<Location> parse(String url) {
      if (!url.startsWith("rbd://")) {
        return Optional.empty();
      }
      String[] p = url.substring("rbd://".length()).split("/");
      if (p.length != 4 || java.util.Arrays.stream(p).anyMatch(String::isEmpty)) {
        return Optional.empty();
      }
      return Optional.of(new Location(p[0], p[1], p[2], p[3]));
    }
  }

  private RbdRootDisk() {}

  /** Creates the disk unless it exists; returns how it was made, for the task's details. */
  static String ensure(AgentEnv env, InstanceSpec spec) throws IOException {
    RbdDisks disks = env.rbdDisks();
    String uuid = spec.getUuid();
    if (disks.exists(uuid)) {
      return "existing rbd disk";
    }
    return fromImage(env, spec.getImageRef(), disks.pool(), RbdDisks.diskName(uuid),
        (long) spec.getRootGb() << 30);
  }

  /**
   * Creates RBD image {@code pool/name} from gateway image {@code imageId}: a clone when
   * the image is in this cluster, else an import of the cached copy; at least
   * {@code minSize} bytes. Returns how it was made.
   */
  static String fromImage(AgentEnv env, String imageId, String pool, String name, long minSize)
      throws IOException {
    RbdDisks disks = env.rbdDisks();
    Image image = ImagesGrpc.newBlockingStub(env.gateway()).withDeadlineAfter(30, TimeUnit.SECONDS)
        .getImage(GetImageRequest.newBuilder().setImageId(imageId).build()).getImage();
    long size = Math.max(minSize, image.getVirtualSize());
    Optional<Location> cloneable = image.getLocationsList().stream()
        .map(Location::parse).flatMap(Optional::stream)
        .filter(l -> l.fsid().equalsIgnoreCase(disks.fsid()))
        .findFirst();
    if (cloneable.isPresent()) {
      Location l = cloneable.get();
      disks.cloneFrom(l.pool(), l.image(), l.snapshot(), pool, name, size);
      return "rbd clone of " + l.pool() + "/" + l.image() + "@" + l.snapshot();
    }
    Path base = env.images().fetch(imageId);
    ExtentPlan plan = ExtentPlan.of(base, 4 << 20);
    // Into RBD, not an image: no content digest to compute.
    try (ParallelReader reader = new ParallelReader(plan, env.config().readThreads(),
        env.config().readThreads() * 2, false)) {
      disks.importFrom(reader, Files.size(base), pool, name, size);
    }
    LOG.info("image is not in this Ceph cluster, imported it; disk={}/{} image={} data={}",
        pool, name, imageId, plan.dataBytes());
    return "rbd import of " + imageId;
  }
}
