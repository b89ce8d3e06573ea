package io.stratus.gateway.store;

import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.NewImage;
import io.stratus.support.imageio.Allocation;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One image store: it keeps the image records and their bytes (STYLE 12: filesystem,
 * Glance and Ceph RBD each implement this and pass the same contract kit against the real
 * service). The gateway core validates input, enforces the upload protocol and computes
 * digests; a backend only stores.
 *
 * <p>Status changes happen only through these verbs: {@link #create} → queued, {@link
 * #beginUpload} → saving, {@link UploadSink#commit} → active, {@link UploadSink#abort} →
 * queued, {@link #kill} → killed, {@link #delete} → gone. Failures are {@link
 * io.stratus.support.errors.ApiException} (NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE …)
 * or {@link IOException} for the bytes.
 */
public interface ImageBackend extends AutoCloseable {
  /** Describes the store (kind, and the Ceph fsid/pool for rbd). */
  StoreInfo info();

  /**
   * Bytes the store can still take, or -1 when it cannot tell (Glance and Ceph report no
   * capacity here). An upload whose declared allocation exceeds it is refused up front.
   */
  default long freeBytes() {
    return -1;
  }

  /** Stores a new queued record; ALREADY_EXISTS if the id is taken. */
  ImageRecord create(NewImage image);

  /** A record that is not deleted. */
  Optional<ImageRecord> get(String id);

  /** Every record that is not deleted, oldest first. */
  List<ImageRecord> list();

  /** Renames and sets/removes properties; NOT_FOUND if absent. */
  ImageRecord update(String id, String newName, Map<String, String> set, Set<String> remove);

  /** Protects the image from deletion, or lifts that; NOT_FOUND if absent. */
  ImageRecord setProtected(String id, boolean value);

  /** Deletes the record, its bytes and any kept partial upload; NOT_FOUND if absent. */
  void delete(String id) throws IOException;

  /**
   * Starts (or, with {@code resumeOffset} > 0 and the same {@code uploadId}, resumes) an
   * upload into a queued image, which becomes saving.
   */
  UploadSink beginUpload(ImageRecord image, String uploadId, long virtualSize, long resumeOffset)
      throws IOException;

  /**
   * As {@link #beginUpload(ImageRecord, String, long, long)}, knowing where the data will
   * lie ({@code allocation}, null when the uploader did not say; every data write lies
   * inside it, the session checks). Stores with sparse writes ignore it; a store without
   * them (Glance) stores only the allocated clusters.
   */
  default UploadSink beginUpload(ImageRecord image, String uploadId, long virtualSize,
      long resumeOffset, Allocation allocation) throws IOException {
    return beginUpload(image, uploadId, virtualSize, resumeOffset);
  }

  /** How far a kept partial upload got (0 when none, or the backend cannot resume). */
  long resumableOffset(String id, String uploadId) throws IOException;

  /**
   * Whether gateway replicas may share this store with leases on who writes an image: then
   * an upload into a saving image reaches {@link #beginUpload}, which takes over the upload
   * of a replica that died and refuses (UNAVAILABLE) while the writer lives.
   */
  default boolean sharedByReplicas() {
    return false;
  }

  /**
   * Whether the store computes md5 and sha512 of what it receives itself (Glance does);
   * otherwise the gateway fills them in after activation ({@link #recordChecksums}).
   */
  default boolean computesChecksums() {
    return false;
  }

  /**
   * Records md5 and sha512 of an active image's content, computed after its activation,
   * and clears {@link ImageRecord#CHECKSUM_PENDING}; NOT_FOUND if the image is gone.
   */
  default ImageRecord recordChecksums(String id, String md5, String sha512) {
    throw new UnsupportedOperationException(info().backend() + " computes its own checksums");
  }

  /** Marks an image killed (its content failed verification) and drops its bytes. */
  void kill(String id) throws IOException;

  /** Reads an active image's content. */
  ExtentSource open(ImageRecord image) throws IOException;

  /** Bytes the store really holds for an image (sparse backends: allocated bytes). */
  long storedBytes(String id) throws IOException;

  @Override
  void close() throws IOException;
}
