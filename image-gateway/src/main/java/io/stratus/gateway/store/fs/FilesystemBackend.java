package io.stratus.gateway.store.fs;

import com.google.protobuf.InvalidProtocolBufferException;
import io.stratus.gateway.domain.ImageMessages;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.ImageStatus;
import io.stratus.gateway.domain.NewImage;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.StoreInfo;
import io.stratus.gateway.store.UploadSink;
import io.stratus.proto.image.v1.Image;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
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
 * The default store: a directory on the gateway's host.
 *
 * <pre>
 *   DIR/records/ID.image         the record (image.v1.Image), replaced atomically
 *   DIR/data/ID.raw              committed content: a sparse raw file, holes kept as holes
 *   DIR/data/ID.extents          its data extents, so reads send holes as zero extents
 *   DIR/partial/ID.UPLOAD.raw    an upload in progress, never visible; published by rename
 *   DIR/partial/ID.UPLOAD.state  durable offset + extents of that upload, for resuming
 * </pre>
 *
 * A crash at any point leaves either the old visible state or the new one: content is
 * written under a private name, fsynced, then renamed into place.
 */
public final class FilesystemBackend implements ImageBackend {
  private static final Logger LOG = LoggerFactory.getLogger(FilesystemBackend.class);

  private final Path records;
  private final Path data;
  private final Path partial;
  private final Clock clock;
  private final Map<String, Object> locks = new ConcurrentHashMap<>();

  public FilesystemBackend(Path dir, Clock clock) throws IOException {
    this.records = Files.createDirectories(dir.resolve("records"));
    this.data = Files.createDirectories(dir.resolve("data"));
    this.partial = Files.createDirectories(dir.resolve("partial"));
    this.clock = clock;
    recover();
  }

  /**
   * After a crash: an image left saving had its upload cut off, so it is queued again
   * (its durable prefix stays private for a resume); temp files of interrupted record
   * writes are removed. Assumes one gateway per store directory.
   */
  private void recover() throws IOException {
    for (ImageRecord r : list()) {
      if (r.status() == ImageStatus.SAVING) {
        save(r.withStatus(ImageStatus.QUEUED, clock.instant()));
        LOG.warn("image was saving when the gateway stopped, queued again; image={}", r.id());
      }
    }
    for (Path dir : List.of(records, data)) {
      try (DirectoryStream<Path> tmp = Files.newDirectoryStream(dir, ".tmp-*")) {
        for (Path p : tmp) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  @Override
  public StoreInfo info() {
    return StoreInfo.of("filesystem");
  }

  /** The usable space of the file system holding the image data. */
  @Override
  public long freeBytes() {
    try {
      return Files.getFileStore(data).getUsableSpace();
    } catch (IOException e) {
      return -1;
    }
  }

  private Object lock(String id) {
    return locks.computeIfAbsent(id, k -> new Object());
  }

  private Path recordPath(String id) {
    return records.resolve(id + ".image");
  }

  Path dataPath(String id) {
    return data.resolve(id + ".raw");
  }

  Path extentsPath(String id) {
    return data.resolve(id + ".extents");
  }

  Path partialData(String id, String uploadId) {
    return partial.resolve(id + "." + safe(uploadId) + ".raw");
  }

  Path partialState(String id, String uploadId) {
    return partial.resolve(id + "." + safe(uploadId) + ".state");
  }

  private static String safe(String uploadId) {
    return uploadId.replaceAll("[^A-Za-z0-9_-]", "_");
  }

  @Override
  public ImageRecord create(NewImage n) {
    var now = clock.instant();
    ImageRecord r = new ImageRecord(n.id(), n.name(), ImageStatus.QUEUED, n.diskFormat(),
        n.containerFormat(), 0, 0, "", "", n.owner(), n.visibility(), n.minDisk(), n.minRam(),
        false, n.properties(), List.of(), now, now);
    synchronized (lock(n.id())) {
      if (Files.exists(recordPath(n.id()))) {
        throw ApiException.alreadyExists("image " + n.id() + " already exists");
      }
      save(r);
    }
    return r;
  }

  private void save(ImageRecord r) {
    try {
      AtomicFiles.write(recordPath(r.id()), ImageMessages.toProto(r).toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write record of image " + r.id(), e);
    }
  }

  @Override
  public Optional<ImageRecord> get(String id) {
    try {
      return Optional.of(ImageMessages.fromProto(Image.parseFrom(Files.readAllBytes(recordPath(id)))));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (InvalidProtocolBufferException e) {
      throw new UncheckedIOException("record of image " + id + " is corrupt", e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private ImageRecord require(String id) {
    return get(id).orElseThrow(() -> ApiException.notFound("image " + id + " not found"));
  }

  /** Read-modify-write of one record under its lock. */
  ImageRecord change(String id, UnaryOperator<ImageRecord> f) {
    synchronized (lock(id)) {
      ImageRecord updated = f.apply(require(id));
      save(updated);
      return updated;
    }
  }

  @Override
  public List<ImageRecord> list() {
    List<ImageRecord> all = new ArrayList<>();
    try (DirectoryStream<Path> dir = Files.newDirectoryStream(records, "*.image")) {
      for (Path p : dir) {
        String name = p.getFileName().toString();
        get(name.substring(0, name.length() - ".image".length())).ifPresent(all::add);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
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

  @Override
  public void delete(String id) throws IOException {
    synchronized (lock(id)) {
      require(id);
      Files.deleteIfExists(recordPath(id));
      AtomicFiles.fsyncDir(records);
      dropBytes(id);
    }
    locks.remove(id);
  }

  private void dropBytes(String id) throws IOException {
    Files.deleteIfExists(dataPath(id));
    Files.deleteIfExists(extentsPath(id));
    dropPartials(id, null);
  }

  /** Removes the partial uploads of an image, except the one named {@code keep}. */
  void dropPartials(String id, String keep) throws IOException {
    try (DirectoryStream<Path> dir = Files.newDirectoryStream(partial, id + ".*")) {
      for (Path p : dir) {
        if (keep == null || !p.getFileName().toString().startsWith(id + "." + safe(keep) + ".")) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  @Override
  public UploadSink beginUpload(ImageRecord image, String uploadId, long virtualSize,
      long resumeOffset) throws IOException {
    synchronized (lock(image.id())) {
      ImageRecord current = require(image.id());
      if (current.status() != ImageStatus.QUEUED) {
        throw ApiException.failedPrecondition("image " + image.id() + " is "
            + current.status().glanceName() + ", not queued");
      }
      dropPartials(image.id(), resumeOffset > 0 ? uploadId : null);
      FsUpload upload = FsUpload.open(this, image.id(), uploadId, resumeOffset);
      save(current.withStatus(ImageStatus.SAVING, clock.instant()));
      return upload;
    }
  }

  @Override
  public long resumableOffset(String id, String uploadId) throws IOException {
    return FsUpload.durableOffsetOf(partialState(id, uploadId));
  }

  /** Publishes a finished upload: data file and extent map into place, record active. */
  ImageRecord publish(String id, Path part, ExtentMap extents, long virtualSize,
      String contentDigest, boolean checksumPending) throws IOException {
    synchronized (lock(id)) {
      ImageRecord current = require(id);
      AtomicFiles.write(extentsPath(id), extents.encode(virtualSize));
      AtomicFiles.publish(part, dataPath(id));
      ImageRecord active = current.activated(virtualSize, virtualSize, contentDigest, checksumPending,
          List.of("file://" + dataPath(id)), clock.instant());
      save(active);
      return active;
    }
  }

  @Override
  public ImageRecord recordChecksums(String id, String md5, String sha512) {
    return change(id, r -> r.withChecksums(md5, sha512, clock.instant()));
  }

  /** Back to queued after an upload ended without content. */
  void requeue(String id) {
    try {
      change(id, r -> r.status() == ImageStatus.SAVING
          ? r.withStatus(ImageStatus.QUEUED, clock.instant()) : r);
    } catch (ApiException e) {
      LOG.debug("image {} vanished during its upload", id);
    }
  }

  @Override
  public void kill(String id) throws IOException {
    synchronized (lock(id)) {
      save(require(id).withStatus(ImageStatus.KILLED, clock.instant()));
      dropBytes(id);
    }
  }

  @Override
  public ExtentSource open(ImageRecord image) throws IOException {
    long[] size = new long[1];
    ExtentMap map = ExtentMap.read(extentsPath(image.id()), size);
    return new FsExtentSource(dataPath(image.id()), map, size[0]);
  }

  @Override
  public long storedBytes(String id) throws IOException {
    Path p = dataPath(id);
    if (!Files.exists(p)) {
      return 0;
    }
    long[] size = new long[1];
    return ExtentMap.read(extentsPath(id), size).dataBytes();
  }

  @Override
  public void close() {}
}
