package io.stratus.gateway.store.rbd;

import io.stratus.ceph.Rados;
import io.stratus.ceph.IoCtx;
import io.stratus.ceph.ObjectLock;
import io.stratus.ceph.RbdPool;
import io.stratus.ceph.RbdException;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.ImageStatus;
import io.stratus.gateway.domain.NewImage;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.RbdDirectImport;
import io.stratus.gateway.store.StoreInfo;
import io.stratus.gateway.store.UploadSink;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Ceph RBD store, through a thin JNA binding of librados/librbd (see the module
 * README, "Ceph client choice"). Everything lives in one pool:
 *
 * <pre>
 *   image.ID   RADOS object in namespace "stratus": the record, a serialized image.v1.Image
 *   ID         RBD image: the committed content, thin, with the protected snapshot "snap"
 *              that the location rbd://FSID/POOL/ID/snap names and clones start from
 *   ID.upload  RBD image: an upload or direct import in progress, never visible; its
 *              metadata holds the upload id and the durable offset, for a resume
 * </pre>
 *
 * Status changes and their RBD side, each under the image's lock:
 *
 * <pre>
 *   queued ──beginUpload / importClone──► saving   (ID.upload created or resumed)
 *   saving ──commit──► active   (snapshot + protect ID.upload, rename to ID, record active)
 *   saving ──abort──► queued    (ID.upload kept for a resume, or removed)
 *   any ──kill──► killed        (ID and ID.upload removed)
 *   any ──delete──► gone        (snapshot, ID, ID.upload, then the record)
 * </pre>
 *
 * A crash before the rename leaves only the private image; one after it leaves an {@code
 * ID} without an active record, which the next upload, import or delete removes.
 *
 * <p>Gateway replicas may share a pool. Who writes an image is a lease in the cluster
 * ({@link WriterLeases}): a replica takes it before the record turns saving and gives it up
 * when the write ends. While it lives, another replica's upload of that image is refused
 * with UNAVAILABLE (the uploader retries); once it lapsed (the writer died), the record
 * left saving is queued again and the upload resumes from the durable offset the dead
 * replica left in {@code ID.upload}. So a restart, or another replica, takes over a dead
 * replica's upload within {@link WriterLeases#DURATION}.
 */
public final class RbdBackend implements ImageBackend, RbdDirectImport {
  private static final Logger LOG = LoggerFactory.getLogger(RbdBackend.class);

  private final Rados rados;
  private final IoCtx imageIo;
  private final IoCtx recordIo;
  private final RbdPool pool;
  private final RecordObjects records;
  private final ImageContent content;
  private final Clock clock;
  private final Map<String, Object> locks = new ConcurrentHashMap<>();
  /** Who has {@code ID.upload} open: a running {@link RbdUpload} or {@link CloneImport}. */
  private final Map<String, Object> writers = new ConcurrentHashMap<>();
  private final WriterLeases leases;

  /**
   * Connects to the cluster of {@code cephConf} and serves images from {@code pool}, which
   * must exist and be initialised for RBD ({@code rbd pool init}).
   */
  public RbdBackend(Path cephConf, String pool, Clock clock) throws IOException {
    this(cephConf, pool, clock, WriterLeases.DURATION);
  }

  /** As above, with writers' leases lasting {@code writerLease} without renewal. */
  public RbdBackend(Path cephConf, String pool, Clock clock, java.time.Duration writerLease)
      throws IOException {
    this.clock = clock;
    this.rados = Rados.connect(cephConf);
    IoCtx images = null;
    IoCtx recs = null;
    try {
      images = rados.ioctx(pool, "");
      recs = rados.ioctx(pool, RecordObjects.NAMESPACE);
      this.imageIo = images;
      this.recordIo = recs;
      this.pool = new RbdPool(images);
      this.records = new RecordObjects(recs);
      this.content = new ImageContent(this.pool, rados.fsid());
      this.leases = new WriterLeases(recs, writerLease);
      requeueInterrupted();
    } catch (IOException | RuntimeException e) {
      if (recs != null) {
        recs.close();
      }
      if (images != null) {
        images.close();
      }
      rados.close();
      throw e;
    }
  }

  @Override
  public StoreInfo info() {
    return new StoreInfo("rbd", rados.fsid(), pool.name());
  }

  private Object lock(String id) {
    return locks.computeIfAbsent(id, k -> new Object());
  }

  private static ApiException unavailable(String id, IOException e) {
    return ApiException.unavailable("the image store failed for image " + id + ": "
        + e.getMessage(), e);
  }

  /**
   * Uploads cut short by a crash are queued again at start-up, when their writer's lease
   * lapsed; those another replica still writes are left to it (a lease lapsing later is
   * handled by the next upload of the image, {@link #claim}).
   */
  private void requeueInterrupted() throws RbdException {
    for (ImageRecord r : list()) {
      if (r.status() == ImageStatus.SAVING) {
        if (leases.take(r.id()) == ObjectLock.Outcome.BUSY) {
          LOG.info("upload in progress on another gateway replica; image={}", r.id());
          continue;
        }
        try {
          change(r.id(), x -> x.withStatus(ImageStatus.QUEUED, clock.instant()));
          LOG.info("interrupted upload found at start-up, image queued again; image={}", r.id());
        } finally {
          leases.release(r.id());
        }
      }
    }
  }

  /**
   * The record of {@code id}, queued, with this replica holding its writer's lease; call
   * under the image's lock. A record left saving by a replica whose lease lapsed is queued
   * again first. UNAVAILABLE while another replica writes the image.
   */
  private ImageRecord claim(String id, String what) throws IOException {
    ImageRecord current = require(id);
    boolean writingHere = writers.containsKey(id);
    if (!writingHere && leases.take(id) == ObjectLock.Outcome.BUSY) {
      throw ApiException.unavailable("image " + id + " is being written by another gateway"
          + " replica; try again", null);
    }
    try {
      if (current.status() == ImageStatus.SAVING && !writingHere) {
        current = change(id, x -> x.withStatus(ImageStatus.QUEUED, clock.instant()));
        LOG.warn("the upload of a gateway that stopped is taken over; image={}", id);
      }
      return queued(current, what);
    } catch (RuntimeException e) {
      if (!writingHere) {
        leases.release(id);
      }
      throw e;
    }
  }

  // ------------------------------------------------------------------ records

  @Override
  public ImageRecord create(NewImage n) {
    var now = clock.instant();
    ImageRecord r = new ImageRecord(n.id(), n.name(), ImageStatus.QUEUED, n.diskFormat(),
        n.containerFormat(), 0, 0, "", "", n.owner(), n.visibility(), n.minDisk(), n.minRam(),
        false, n.properties(), List.of(), now, now);
    try {
      records.create(r);
    } catch (RbdException e) {
      if (e.errno() == RbdException.EEXIST) {
        throw ApiException.alreadyExists("image " + n.id() + " already exists");
      }
      throw unavailable(n.id(), e);
    } catch (IOException e) {
      throw unavailable(n.id(), e);
    }
    return r;
  }

  @Override
  public Optional<ImageRecord> get(String id) {
    try {
      return records.get(id);
    } catch (IOException e) {
      throw unavailable(id, e);
    }
  }

  private ImageRecord require(String id) {
    return get(id).orElseThrow(() -> ApiException.notFound("image " + id + " not found"));
  }

  /** Read-modify-write of one record under its lock. */
  private ImageRecord change(String id, UnaryOperator<ImageRecord> f) {
    synchronized (lock(id)) {
      ImageRecord updated = f.apply(require(id));
      save(updated);
      return updated;
    }
  }

  @Override
  public ImageRecord recordChecksums(String id, String md5, String sha512) {
    return change(id, r -> r.withChecksums(md5, sha512, clock.instant()));
  }

  private void save(ImageRecord r) {
    try {
      records.save(r);
    } catch (IOException e) {
      throw unavailable(r.id(), e);
    }
  }

  @Override
  public List<ImageRecord> list() {
    List<ImageRecord> all = new ArrayList<>();
    try {
      for (String id : records.ids()) {
        records.get(id).ifPresent(all::add);
      }
    } catch (IOException e) {
      throw ApiException.unavailable("the image store cannot list images: " + e.getMessage(), e);
    }
    all.sort(Comparator.comparing(ImageRecord::createdAt).thenComparing(ImageRecord::id));
    return all;
  }

  @Override
  public ImageRecord update(String id, String newName, Map<String, String> set, Set<String> remove) {
    return change(id, r -> r.updated(newName, set, remove, clock.instant()));
  }

  @Override
  public ImageRecord setProtected(String id, boolean value) {
    return change(id, r -> r.withProtected(value, clock.instant()));
  }

  /**
   * Removes the snapshot, the RBD images and the record, in that order, so a failure part
   * way leaves the record for another delete and never bytes without a record.
   * FAILED_PRECONDITION, with nothing removed, while a clone depends on the snapshot. An
   * upload in progress keeps its private image until it ends (and then removes it).
   */
  @Override
  public void delete(String id) {
    synchronized (lock(id)) {
      require(id);
      try {
        content.drop(id, !writers.containsKey(id));
        records.remove(id);
        if (!writers.containsKey(id)) {
          leases.forget(id);
        }
      } catch (IOException e) {
        throw unavailable(id, e);
      }
    }
    locks.remove(id);
    LOG.info("image removed from Ceph; image={} pool={}", id, pool.name());
  }

  @Override
  public void kill(String id) throws IOException {
    synchronized (lock(id)) {
      save(require(id).withStatus(ImageStatus.KILLED, clock.instant()));
      content.drop(id, !writers.containsKey(id));
    }
    LOG.warn("image killed, its RBD images removed; image={}", id);
  }

  // ------------------------------------------------------------------ writing

  @Override
  public UploadSink beginUpload(ImageRecord image, String uploadId, long virtualSize,
      long resumeOffset) throws IOException {
    String id = image.id();
    synchronized (lock(id)) {
      ImageRecord current = claim(id, "");
      RbdUpload upload;
      try {
        // A stale ID left by a crash after the rename goes; so does another upload's prefix.
        content.drop(id, resumeOffset == 0);
        if (resumeOffset > 0) {
          upload = RbdUpload.resume(this, pool, id, uploadId, virtualSize, resumeOffset);
        } else {
          upload = RbdUpload.start(this, pool, id, uploadId, virtualSize);
        }
      } catch (RbdException e) {
        leases.release(id);
        if (e.errno() == RbdException.EBUSY) {
          // ID.upload still watched by a gateway that died: Ceph drops its watch in 30 s
          throw ApiException.unavailable("image " + id + ": its upload is still open by a"
              + " gateway that stopped; try again", e);
        }
        throw e;
      } catch (IOException | RuntimeException e) {
        leases.release(id);
        throw e;
      }
      writers.put(id, upload);
      try {
        save(current.withStatus(ImageStatus.SAVING, clock.instant()));
      } catch (RuntimeException e) {
        upload.abort(resumeOffset > 0);
        throw e;
      }
      LOG.info("upload writing into Ceph; image={} upload={} rbd={} resumeOffset={}",
          id, uploadId, content.privateSpec(id), resumeOffset);
      return upload;
    }
  }

  private static ImageRecord queued(ImageRecord current, String what) {
    String id = current.id();
    if (current.status() != ImageStatus.QUEUED) {
      throw ApiException.failedPrecondition("image " + id + " is "
          + current.status().glanceName() + ", not queued" + what);
    }
    return current;
  }

  @Override
  public boolean sharedByReplicas() {
    return true;
  }

  @Override
  public long resumableOffset(String id, String uploadId) throws IOException {
    if (writers.get(id) instanceof RbdUpload running && running.uploadId().equals(uploadId)) {
      return running.durableOffset();
    }
    return content.keptOffset(id, uploadId);
  }

  /**
   * Starts a direct import: the queued record becomes saving and {@code importer} will
   * write {@code ID.upload}. Leftovers of a crashed attempt are removed first.
   */
  void beginImport(String id, Object importer) throws IOException {
    synchronized (lock(id)) {
      ImageRecord current = claim(id, "; it cannot take an import");
      try {
        content.drop(id, true);
        writers.put(id, importer);
        save(current.withStatus(ImageStatus.SAVING, clock.instant()));
      } catch (IOException | RuntimeException e) {
        writers.remove(id, importer);
        leases.release(id);
        throw e;
      }
    }
  }

  /**
   * Makes what {@code writer} wrote into {@code ID.upload} the image's content and the
   * record active. If the record is gone or anything fails, {@code ID} does not stay.
   */
  ImageRecord publish(Object writer, String id, long virtualSize, String contentDigest,
      boolean checksumPending) throws IOException {
    synchronized (lock(id)) {
      ImageRecord current = require(id);
      if (current.status() != ImageStatus.SAVING) {
        throw ApiException.failedPrecondition("image " + id + " is "
            + current.status().glanceName() + ", not saving");
      }
      content.publish(id);
      try {
        ImageRecord active = current.activated(virtualSize, virtualSize, contentDigest, checksumPending,
            List.of(content.location(id)), clock.instant());
        records.save(active);
        writers.remove(id, writer);
        leases.release(id);
        LOG.info("image active in Ceph; image={} location={}", id, content.location(id));
        return active;
      } catch (IOException | RuntimeException e) {
        try {
          content.drop(id, false);
        } catch (IOException | RuntimeException cleanup) {
          e.addSuppressed(cleanup);
        }
        throw e;
      }
    }
  }

  /**
   * A write ended without content: the image goes back to queued, and {@code ID.upload}
   * is removed unless {@code keep} (or the record is gone: then nothing may stay).
   */
  void writeEnded(Object writer, String id, boolean keep) {
    synchronized (lock(id)) {
      writers.remove(id, writer);
      leases.release(id);
      boolean kept = false;
      try {
        Optional<ImageRecord> current = records.get(id);
        kept = keep && current.isPresent();
        if (!kept) {
          content.dropPrivate(id);
        }
        if (current.isEmpty()) {
          leases.forget(id);  // deleted while written here: its lease object goes too
        }
        if (current.isPresent() && current.get().status() == ImageStatus.SAVING) {
          records.save(current.get().withStatus(ImageStatus.QUEUED, clock.instant()));
        }
      } catch (IOException | RuntimeException e) {
        LOG.warn("could not clean up after a write without content; image={}", id, e);
      }
      LOG.info("write into Ceph ended without content; image={} keptForResume={}", id, kept);
    }
  }

  // ------------------------------------------------------------------ reading

  @Override
  public ExtentSource open(ImageRecord image) throws IOException {
    return content.open(image.id());
  }

  @Override
  public long storedBytes(String id) throws IOException {
    return content.storedBytes(id);
  }

  @Override
  public ImageRecord importClone(ImageRecord image, String fsid, String sourcePool,
      String sourceImage, String sourceSnapshot) throws IOException {
    return new CloneImport(this, pool, rados).run(image.id(), new CloneImport.Source(fsid,
        sourcePool, sourceImage, sourceSnapshot));
  }

  @Override
  public void close() {
    leases.close();
    recordIo.close();
    imageIo.close();
    rados.close();
  }
}
