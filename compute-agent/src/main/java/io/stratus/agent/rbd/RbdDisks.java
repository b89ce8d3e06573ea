package io.stratus.agent.rbd;

import io.stratus.agent.disk.DiskReader;
import io.stratus.ceph.IoCtx;
import io.stratus.ceph.Rados;
import io.stratus.ceph.RbdException;
import io.stratus.ceph.RbdImage;
import io.stratus.ceph.RbdPool;
import io.stratus.ceph.WriteWindow;
import io.stratus.support.concurrent.Timers;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Instance root disks as RBD images (Nova {@code images_type=rbd}): image
 * {@code UUID_disk} in one pool of one Ceph cluster. Creates them (copy-on-write clone of
 * an image's protected {@code snap} when the image lives in the same cluster, else a sparse
 * import), snapshots them for createImage, reads snapshots back, removes them. Snapshots
 * this agent makes are named {@value #SNAPSHOT_MARK}{@code OPERATION}, so leftovers of a
 * crash can be found and removed. Thread-safe.
 */
public final class RbdDisks implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RbdDisks.class);
  /** Prefix of the snapshots createImage takes of a disk. */
  public static final String SNAPSHOT_MARK = "stratus-snap-";

  /** How many times a snapshot that could not be removed is tried again. */
  static final int REMOVE_ATTEMPTS = 360;

  private final Rados rados;
  private final IoCtx io;
  private final RbdPool pool;
  private final Path conf;
  private final Duration retryInterval;
  private final ScheduledExecutorService janitor;
  private final java.util.Map<String, IoCtx> pools = new java.util.concurrent.ConcurrentHashMap<>();

  private RbdDisks(Rados rados, IoCtx io, Path conf, Duration retryInterval) {
    this.rados = rados;
    this.io = io;
    this.pool = new RbdPool(io);
    this.conf = conf;
    this.retryInterval = retryInterval;
    this.janitor = Timers.daemon("rbd-snapshot-janitor");
  }

  /**
   * Connects to the cluster {@code conf} describes; disks live in {@code poolName}. A
   * snapshot that cannot be removed yet is tried again every {@code retryInterval}.
   */
  public static RbdDisks connect(Path conf, String poolName, Duration retryInterval)
      throws IOException {
    Rados rados = Rados.connect(conf);
    try {
      return new RbdDisks(rados, rados.ioctx(poolName, ""), conf, retryInterval);
    } catch (IOException | RuntimeException e) {
      rados.close();
      throw e;
    }
  }

  /** The cluster's fsid. */
  public String fsid() {
    return rados.fsid();
  }

  /** The pool the disks live in. */
  public String pool() {
    return pool.name();
  }

  /** The ceph.conf the agent (and qemu) use to reach the cluster. */
  public Path conf() {
    return conf;
  }

  /** The RBD image name of an instance's root disk (Nova's {@code UUID_disk}). */
  public static String diskName(String uuid) {
    return uuid + "_disk";
  }

  /** Whether the instance's root disk exists. */
  public boolean exists(String uuid) throws IOException {
    return volumeExists(pool.name(), diskName(uuid));
  }

  /**
   * Copy-on-write boot: clones {@code imagePool/image@snap} of this cluster into RBD image
   * {@code poolName/name} and grows it to {@code minSize} when that is larger.
   */
  public void cloneFrom(String imagePool, String image, String snap, String poolName,
      String name, long minSize) throws IOException {
    cloneVolume(imagePool, image, snap, poolName, name);
    growVolume(poolName, name, minSize);
    LOG.info("rbd disk cloned; disk={}/{} parent={}/{}@{}", poolName, name, imagePool, image, snap);
  }

  /**
   * Imports a local image into RBD image {@code poolName/name}, writing only its data
   * pieces (holes and zero ranges stay unallocated), then grows it to {@code minSize}. A
   * failed import leaves no image behind.
   */
  public void importFrom(DiskReader content, long size, String poolName, String name,
      long minSize) throws IOException {
    RbdPool target = poolNamed(poolName);
    target.create(name, size);
    boolean done = false;
    try (RbdImage disk = target.open(name); WriteWindow window = new WriteWindow(disk)) {
      DiskReader.Piece p;
      while ((p = content.next()) != null) {
        if (p.data() != null) {
          window.write(p.extent().offset(), p.data());  // copied into the aio buffer
        }
        if (p.release() != null) {
          p.release().run();
        }
      }
      window.drain();
      done = true;
    } finally {
      if (!done) {
        target.remove(name);
      }
    }
    growVolume(poolName, name, minSize);
    LOG.info("rbd disk imported; disk={}/{} size={}", poolName, name, size);
  }

  /** The disk's size in bytes. */
  public long size(String uuid) throws IOException {
    try (RbdImage disk = pool.openReadOnly(diskName(uuid), null)) {
      return disk.size();
    }
  }

  /**
   * Takes snapshot {@code snap} of the disk — crash-consistent, while the guest keeps
   * running — and protects it, so it can be cloned.
   */
  public void snapshot(String uuid, String snap) throws IOException {
    snapshotVolume(pool.name(), diskName(uuid), snap);
  }

  /**
   * Unprotects and removes snapshot {@code snap}; nothing if it or the disk is gone.
   * {@link RbdException} with EBUSY while a clone of it still exists.
   */
  public void removeSnapshot(String uuid, String snap) throws IOException {
    removeVolumeSnapshot(pool.name(), diskName(uuid), snap);
  }

  /**
   * Removes snapshot {@code snap} now or, when that fails (a clone still depends on it: a
   * direct import the gateway did not finish, whose partial clone the gateway removes when
   * it fails or restarts), in the background every retry interval, up to
   * {@value #REMOVE_ATTEMPTS} times. Returns whether it is gone now.
   */
  public boolean removeSnapshotEventually(String uuid, String snap) {
    try {
      removeSnapshot(uuid, snap);
      return true;
    } catch (IOException | RuntimeException e) {
      LOG.warn("rbd snapshot not removable yet, retrying every {}; instance={} snapshot={}: {}",
          retryInterval, uuid, snap, e.getMessage());
      scheduleRemoval(uuid, snap, 1);
      return false;
    }
  }

  private void scheduleRemoval(String uuid, String snap, int attempt) {
    try {
      janitor.schedule(() -> {
        try {
          removeSnapshot(uuid, snap);
          LOG.info("rbd snapshot removed after {} retries; instance={} snapshot={}", attempt,
              uuid, snap);
        } catch (IOException | RuntimeException e) {
          if (attempt < REMOVE_ATTEMPTS) {
            scheduleRemoval(uuid, snap, attempt + 1);
          } else {
            LOG.error("gave up removing an rbd snapshot; the next agent start tries again;"
                + " instance={} snapshot={}", uuid, snap, e);
          }
        }
      }, retryInterval.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      LOG.warn("agent stopping; the next start removes rbd snapshot {} of instance {}", snap, uuid);
    }
  }

  /** The disk's snapshots taken by createImage ({@value #SNAPSHOT_MARK}…). */
  public List<String> snapshotsOf(String uuid) throws IOException {
    try (RbdImage disk = pool.openReadOnly(diskName(uuid), null)) {
      List<String> ours = new ArrayList<>();
      for (String s : disk.snapshots()) {
        if (s.startsWith(SNAPSHOT_MARK)) {
          ours.add(s);
        }
      }
      return ours;
    } catch (RbdException e) {
      if (e.notFound()) {
        return List.of();
      }
      throw e;
    }
  }

  /** Reads snapshot {@code snap} of the disk, sparse, with {@code threads} reads in flight. */
  public RbdSnapshotReader read(String uuid, String snap, int threads) throws IOException {
    return RbdSnapshotReader.open(pool.openReadOnly(diskName(uuid), snap), threads);
  }

  /**
   * Removes the disk and the snapshots createImage left on it; nothing if it is gone.
   * Refuses (EBUSY) while a clone depends on one of its snapshots.
   */
  public void remove(String uuid) throws IOException {
    for (String snap : snapshotsOf(uuid)) {
      removeSnapshot(uuid, snap);
    }
    if (pool.remove(diskName(uuid))) {
      LOG.info("root disk removed; instance={} disk={}", uuid, pool.spec(diskName(uuid)));
    }
  }

  // ---------------------------------------------------------------- volumes

  /** The images of pool {@code name} (an I/O context kept open until close). */
  private RbdPool poolNamed(String name) throws IOException {
    if (name.equals(pool.name())) {
      return pool;
    }
    IoCtx ctx = pools.get(name);
    if (ctx == null) {
      synchronized (pools) {
        ctx = pools.get(name);
        if (ctx == null) {
          ctx = rados.ioctx(name, "");
          pools.put(name, ctx);
        }
      }
    }
    return new RbdPool(ctx);
  }

  /** Whether volume {@code pool/image} exists. */
  public boolean volumeExists(String poolName, String image) throws IOException {
    try (RbdImage ignored = poolNamed(poolName).openReadOnly(image, null)) {
      return true;
    } catch (RbdException e) {
      if (e.notFound()) {
        return false;
      }
      throw e;
    }
  }

  /** Creates a blank thin volume. */
  public void createVolume(String poolName, String image, long size) throws IOException {
    poolNamed(poolName).create(image, size);
  }

  /** Clones {@code fromPool/fromImage@snap} into volume {@code poolName/image}. */
  public void cloneVolume(String fromPool, String fromImage, String snap, String poolName,
      String image) throws IOException {
    try (IoCtx from = rados.ioctx(fromPool, "")) {
      poolNamed(poolName).clone(from, fromImage, snap, image);
    }
  }

  /** Grows a volume to {@code minSize} when it is smaller; returns its size. */
  public long growVolume(String poolName, String image, long minSize) throws IOException {
    try (RbdImage v = poolNamed(poolName).open(image)) {
      if (v.size() < minSize) {
        v.resize(minSize);
      }
      return v.size();
    }
  }

  /** A volume's size in bytes. */
  public long volumeSize(String poolName, String image) throws IOException {
    try (RbdImage v = poolNamed(poolName).openReadOnly(image, null)) {
      return v.size();
    }
  }

  /** Takes and protects snapshot {@code snap} of a volume (so volumes can be cloned from it). */
  public void snapshotVolume(String poolName, String image, String snap) throws IOException {
    try (RbdImage v = poolNamed(poolName).open(image)) {
      v.createSnapshot(snap);
      try {
        v.protectSnapshot(snap);
      } catch (IOException | RuntimeException e) {
        v.removeSnapshot(snap);
        throw e;
      }
    }
  }

  /** Unprotects and removes a volume snapshot; nothing if it or the volume is gone. */
  public void removeVolumeSnapshot(String poolName, String image, String snap) throws IOException {
    try (RbdImage v = poolNamed(poolName).open(image)) {
      v.removeSnapshot(snap);
    } catch (RbdException e) {
      if (!e.notFound()) {
        throw e;
      }
    }
  }

  /** The names of a volume's snapshots ([] when it is gone). */
  public List<String> volumeSnapshots(String poolName, String image) throws IOException {
    try (RbdImage v = poolNamed(poolName).openReadOnly(image, null)) {
      return v.snapshots();
    } catch (RbdException e) {
      if (e.notFound()) {
        return List.of();
      }
      throw e;
    }
  }

  /** The clones ({@code pool/image}) of snapshot {@code snap} of a volume; [] when gone. */
  public List<String> clonesOf(String poolName, String image, String snap) throws IOException {
    try (RbdImage v = poolNamed(poolName).openReadOnly(image, snap)) {
      return v.children();
    } catch (RbdException e) {
      if (e.notFound()) {
        return List.of();
      }
      throw e;
    }
  }

  /** Removes a volume without snapshots; false when it did not exist. */
  public boolean removeVolume(String poolName, String image) throws IOException {
    return poolNamed(poolName).remove(image);
  }

  @Override
  public void close() {
    janitor.shutdownNow();
    pools.values().forEach(IoCtx::close);
    io.close();
    rados.close();
  }
}
