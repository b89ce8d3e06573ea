package io.stratus.gateway.upload;

import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.domain.ImageStatus;
import io.stratus.gateway.domain.ImageValidator;
import io.stratus.gateway.store.Extent;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.gateway.store.ImageBackend;
import io.stratus.gateway.store.UploadSink;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadTrailer;
import io.stratus.proto.image.v1.ZeroExtent;
import io.stratus.support.digest.ExtentChecksums;
import io.stratus.support.digest.PipelinedChunkDigest;
import io.stratus.support.errors.ApiException;
import io.stratus.support.imageio.Allocation;
import java.io.IOException;
import java.util.Locale;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One UploadImage call, as an explicit state machine:
 *
 * <pre>
 *   AWAITING_HEADER ──header──► RECEIVING ──data/zero──► RECEIVING
 *                                   │ trailer ──► TRAILED ──end──► COMMITTED (image active)
 *   any protocol error ──► FAILED (partial data removed, image queued again)
 *   crc/digest mismatch ─► FAILED (image killed)
 *   call broken        ──► FAILED (durable prefix kept privately for a resume)
 * </pre>
 *
 * Extents must come in increasing, non-overlapping order within the header's virtual size;
 * a gap between extents is a hole. Every data extent's CRC32C is checked before its bytes
 * reach the store, the trailer's extent chain at the end. The content digest ({@code
 * sha256-4m}) is the uploader's when its header promised one and the store is verified
 * afterwards; otherwise it is computed here on its own thread from the data bytes only,
 * so the cost follows the allocated bytes. md5 and sha512 are not computed here (see
 * {@link io.stratus.gateway.checksum.ChecksumFiller}).
 */
public final class UploadSession {
  private static final Logger LOG = LoggerFactory.getLogger(UploadSession.class);
  private static final Pattern CONTENT_DIGEST = Pattern.compile("sha256-4m:[0-9a-f]{64}");

  /** Where the session is. */
  public enum State {
    AWAITING_HEADER,
    RECEIVING,
    TRAILED,
    COMMITTED,
    FAILED
  }

  private final ImageBackend backend;
  private final UploadSlots uploadSlots;
  private String slotOwner;
  private final int maxExtentBytes;
  private final long maxVirtualBytes;
  private final boolean backgroundPass;
  private final ExtentChecksums received = new ExtentChecksums();
  private State state = State.AWAITING_HEADER;
  private String imageId;
  private String uploadId;
  private long virtualSize;
  /** Where the header said the data lies; null when it did not say. */
  private Allocation allocation;
  private long position;
  private long bytesReceived;
  private UploadTrailer trailer;
  private UploadSink sink;
  private PipelinedChunkDigest digest;
  private boolean trustTrailerDigest;
  private boolean holdsSlot;

  /**
   * @param backgroundPass whether the gateway's background pass runs over images after
   *     activation (checks the stored bytes against the content digest, and fills md5 and
   *     sha512 where the store does not compute them); false when checksums are off
   */
  public UploadSession(ImageBackend backend, UploadSlots uploadSlots, UploadLimits limits,
      boolean backgroundPass) {
    this.backend = backend;
    this.uploadSlots = uploadSlots;
    this.maxExtentBytes = limits.maxExtentBytes();
    this.maxVirtualBytes = limits.maxVirtualBytes();
    this.backgroundPass = backgroundPass;
  }

  public State state() {
    return state;
  }

  public long bytesReceived() {
    return bytesReceived;
  }

  /** The first message: which image, how large, and where to (re)start. */
  public void header(UploadHeader h) throws IOException {
    expect(State.AWAITING_HEADER, "header");
    imageId = ImageValidator.id("header.image_id", h.getImageId());
    if (h.getUploadId().isEmpty() || h.getUploadId().length() > 128) {
      throw protocol("header.upload_id", "must be 1..128 characters");
    }
    if (h.getVirtualSize() < 0) {
      // 0 is an empty image: Nova's volume-backed snapshots are images of size 0 whose
      // properties list the volume snapshots.
      throw protocol("header.virtual_size", "must not be negative");
    }
    if (h.getVirtualSize() > maxVirtualBytes) {
      throw ApiException.resourceExhausted("header.virtual_size: " + h.getVirtualSize()
          + " bytes exceed the limit upload.max.virtual.bytes = " + maxVirtualBytes);
    }
    if (!h.getDiskFormat().isEmpty() && !h.getDiskFormat().equals("raw")) {
      throw protocol("header.disk_format", "extents carry raw content; got '" + h.getDiskFormat() + "'");
    }
    ImageRecord image = backend.get(imageId)
        .orElseThrow(() -> ApiException.notFound("image " + imageId + " not found"));
    // A saving image of a store shared by replicas may be a dead replica's upload to take
    // over: the backend decides (UNAVAILABLE while its writer lives).
    if (image.status() != ImageStatus.QUEUED
        && !(image.status() == ImageStatus.SAVING && backend.sharedByReplicas())) {
      throw ApiException.failedPrecondition("image " + imageId + " is "
          + image.status().glanceName() + ", not queued; it cannot take an upload");
    }
    long resume = h.getResumeOffset();
    if (resume < 0 || resume > h.getVirtualSize()) {
      throw protocol("header.resume_offset", "must be between 0 and virtual_size");
    }
    Allocation declared = null;
    if (h.hasAllocation()) {
      try {
        declared = Allocation.of(h.getAllocation(), h.getVirtualSize());
      } catch (IllegalArgumentException e) {
        throw protocol("header.allocation", e.getMessage());
      }
    }
    if (declared != null) {
      long free;
      try {
        free = backend.freeBytes();
      } catch (RuntimeException e) {
        free = -1;
      }
      if (free >= 0 && declared.bytes() > free) {
        throw ApiException.resourceExhausted("header.allocation: the upload needs "
            + declared.bytes() + " bytes, the image store has " + free + " bytes free");
      }
    }
    uploadSlots.acquire(image.owner());
    slotOwner = image.owner();
    holdsSlot = true;
    uploadId = h.getUploadId();
    virtualSize = h.getVirtualSize();
    allocation = declared;
    try {
      sink = backend.beginUpload(image, uploadId, virtualSize, resume, allocation);
      // The uploader hashed as it read: the store is verified against its digest after
      // activation (ChecksumFiller), so nothing is hashed here on the critical path.
      trustTrailerDigest = h.getContentDigestInTrailer() && backgroundPass;
      if (!trustTrailerDigest) {
        digest = new PipelinedChunkDigest();
        if (resume > 0) {
          rehashPrefix(resume);
        }
      }
    } catch (IOException | RuntimeException e) {
      release();
      if (digest != null) {
        digest.close();
      }
      if (sink != null) {
        sink.abort(true);
      }
      state = State.FAILED;
      throw e;
    }
    position = resume;
    state = State.RECEIVING;
    LOG.info("upload started; image={} upload={} virtualSize={} resumeOffset={}",
        imageId, uploadId, virtualSize, resume);
  }

  /** Rebuilds the content digest of a resumed upload's durable prefix (its data only). */
  private void rehashPrefix(long upTo) throws IOException {
    try (ExtentSource prefix = sink.durablePrefix()) {
      Extent e;
      while ((e = prefix.next(4 << 20)) != null && e.offset() < upTo) {
        if (e instanceof Extent.Data d) {
          long len = Math.min(e.length(), upTo - e.offset());
          digest.data(e.offset(), d.data().duplicate().limit(d.data().position() + (int) len));
        }
      }
    }
  }

  /** Activates queued image {@code id} with no content (size 0), in one step. */
  public ImageRecord empty(String id) throws IOException {
    header(UploadHeader.newBuilder().setImageId(id).setUploadId("empty").setVirtualSize(0)
        .build());
    trailer(UploadTrailer.getDefaultInstance());
    try {
      return complete();
    } catch (IOException | RuntimeException e) {
      abandon(false);
      throw e;
    }
  }

  /** A data extent. */
  public void data(DataExtent d) throws IOException {
    expect(State.RECEIVING, "data");
    long length = d.getData().size();
    if (length == 0 || length > maxExtentBytes) {
      throw protocol("data.data", "must hold 1.." + maxExtentBytes + " bytes, got " + length);
    }
    place("data", d.getOffset(), length);
    if (allocation != null && !allocation.covers(d.getOffset(), length)) {
      throw protocol("data.offset", "the data extent [" + d.getOffset() + ", "
          + (d.getOffset() + length) + ") lies outside the header's allocation");
    }
    if (!d.hasCrc32C()) {
      throw protocol("data.crc32c", "is required (CRC32C of data)");
    }
    var bytes = d.getData().asReadOnlyByteBuffer();
    int crc = ExtentChecksums.crc32c(bytes);
    if (crc != d.getCrc32C()) {
      kill("the data extent at " + d.getOffset() + " (" + length + " bytes) arrived with crc32c "
          + Integer.toUnsignedString(crc, 16) + ", the uploader read "
          + Integer.toUnsignedString(d.getCrc32C(), 16));
    }
    received.add(d.getOffset(), length, crc);
    if (digest != null) {
      digest.data(d.getOffset(), bytes);
    }
    sink.data(d.getOffset(), bytes);
    bytesReceived += length;
    DataMeters.UPLOADED.increment(length);
    position = d.getOffset() + length;
  }

  /** A zero extent (a hole). */
  public void zero(ZeroExtent z) throws IOException {
    expect(State.RECEIVING, "zero");
    if (z.getLength() <= 0) {
      throw protocol("zero.length", "must be positive");
    }
    place("zero", z.getOffset(), z.getLength());
    sink.zero(z.getOffset(), z.getLength());
    position = z.getOffset() + z.getLength();
  }

  /** Checks order and bounds. */
  private void place(String kind, long offset, long length) {
    if (offset < position) {
      throw protocol(kind + ".offset", offset + " goes back or overlaps: the next extent must"
          + " start at or after " + position);
    }
    if (offset + length > virtualSize) {
      throw protocol(kind + ".offset", "extent [" + offset + ", " + (offset + length)
          + ") ends past virtual_size " + virtualSize);
    }
  }

  /** The uploader's extent chain (and maybe content digest), checked at the end. */
  public void trailer(UploadTrailer t) {
    expect(State.RECEIVING, "trailer");
    trailer = t;
    state = State.TRAILED;
  }

  /** The client finished sending: verify and publish. */
  public ImageRecord complete() throws IOException {
    if (state == State.AWAITING_HEADER) {
      throw protocol("header", "the upload ended before its header");
    }
    if (state != State.TRAILED) {
      throw protocol("trailer", "the upload ended without its trailer");
    }
    if (trailer.getDataBytes() != received.dataBytes()) {
      kill("the uploader sent " + trailer.getDataBytes() + " data bytes, "
          + received.dataBytes() + " arrived");
    }
    if (trailer.getExtentsCrc32C() != received.chain()) {
      kill("the list of extents the uploader sent differs from the one received");
    }
    String content;
    if (trustTrailerDigest) {
      content = trailer.getContentDigest().toLowerCase(Locale.ROOT);
      if (!CONTENT_DIGEST.matcher(content).matches()) {
        throw protocol("trailer.content_digest", "must be sha256-4m: and 64 hex digits, as the"
            + " header promised");
      }
    } else {
      content = digest.finish(virtualSize);
    }
    if (!trailer.getContentDigest().isEmpty()
        && !trailer.getContentDigest().equalsIgnoreCase(content)) {
      kill("content digest " + trailer.getContentDigest() + " sent by the uploader differs from "
          + content + " received");
    }
    ImageRecord active;
    try {
      active = sink.commit(virtualSize, content,
          backgroundPass && (trustTrailerDigest || !backend.computesChecksums()));
    } finally {
      release();
    }
    long expected = sink.storedBytes(virtualSize);
    if (active.size() != expected || active.virtualSize() != virtualSize) {
      state = State.FAILED;
      backend.kill(imageId);
      throw ApiException.dataLoss("the store holds " + active.size() + " bytes (virtual size "
          + active.virtualSize() + ") for image " + imageId + " where " + expected
          + " bytes of content of " + virtualSize + " were sent; the image was killed");
    }
    state = State.COMMITTED;
    LOG.info("upload committed; image={} upload={} bytes={} virtualSize={} digest={}",
        imageId, uploadId, bytesReceived, virtualSize, content);
    return active;
  }

  private void kill(String why) throws IOException {
    state = State.FAILED;
    if (digest != null) {
      digest.close();
    }
    release();
    sink.abort(false);
    backend.kill(imageId);
    LOG.warn("upload failed verification, image killed; image={} reason={}", imageId, why);
    throw ApiException.dataLoss(why + "; image " + imageId + " was killed");
  }

  /**
   * The client broke off or the call failed: keep the durable prefix for a resume when
   * {@code keepForResume}, else drop everything. The image is queued again either way.
   */
  public void abandon(boolean keepForResume) {
    if (state == State.COMMITTED || state == State.FAILED) {
      return;
    }
    state = State.FAILED;
    release();
    if (digest != null) {
      digest.close();
    }
    if (sink != null) {
      sink.abort(keepForResume);
      LOG.info("upload abandoned; image={} upload={} keptForResume={}", imageId, uploadId,
          keepForResume);
    }
  }

  private void release() {
    if (holdsSlot) {
      holdsSlot = false;
      uploadSlots.release(slotOwner);
    }
  }

  private void expect(State expected, String what) {
    if (state != expected) {
      throw protocol(what, state == State.AWAITING_HEADER
          ? "the first message must be the header"
          : "not expected after " + (state == State.TRAILED ? "the trailer" : "the " + what));
    }
  }

  private static ApiException protocol(String field, String problem) {
    return ApiException.invalidArgument(field, problem);
  }

  /** Wraps an unexpected I/O failure of the store. */
  public static ApiException storeFailure(String imageId, IOException e) {
    return ApiException.unavailable("the image store failed for image " + imageId + ": "
        + e.getMessage(), e);
  }
}
