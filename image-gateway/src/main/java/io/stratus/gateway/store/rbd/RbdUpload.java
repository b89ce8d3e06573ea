package io.stratus.gateway.store.rbd;

import io.stratus.ceph.RbdPool;
import io.stratus.ceph.RbdImage;
import io.stratus.ceph.RbdException;
import io.stratus.ceph.WriteWindow;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.gateway.store.UploadSink;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upload into the image's private RBD image {@code <id>.upload} (never visible: the
 * record stays saving and no location points at it). Data extents are written at their
 * offsets through a {@link WriteWindow} of asynchronous writes; zero extents are not
 * written, so the image stays thin. A completed write is on the OSDs (librbd cache off),
 * so the durable offset is where the oldest write still in flight starts. It is also saved
 * in the private image's metadata every {@link #CHECKPOINT_EVERY} bytes and when the
 * upload breaks off, so a resume works after the gateway itself restarted.
 */
final class RbdUpload implements UploadSink {
  private static final Logger LOG = LoggerFactory.getLogger(RbdUpload.class);
  static final long CHECKPOINT_EVERY = 64L << 20;
  static final String KEY_UPLOAD_ID = "stratus.upload_id";
  static final String KEY_DURABLE = "stratus.durable_offset";

  private final RbdBackend store;
  private final String id;
  private final String uploadId;
  private final RbdImage image;
  private final WriteWindow window;
  private volatile long position;
  private long sinceCheckpoint;
  private boolean ended;

  private RbdUpload(RbdBackend store, String id, String uploadId, RbdImage image, long start) {
    this.store = store;
    this.id = id;
    this.uploadId = uploadId;
    this.image = image;
    this.window = new WriteWindow(image);
    this.position = start;
  }

  /** A new upload: a fresh thin private image of {@code virtualSize} bytes. */
  static RbdUpload start(RbdBackend store, RbdPool pool, String id, String uploadId,
      long virtualSize) throws IOException {
    String name = ImageContent.privateName(id);
    pool.create(name, virtualSize);
    RbdImage image = pool.open(name);
    try {
      image.setMetadata(KEY_UPLOAD_ID, uploadId);
      image.setMetadata(KEY_DURABLE, "0");
    } catch (IOException | RuntimeException e) {
      image.close();
      pool.remove(name);
      throw e;
    }
    return new RbdUpload(store, id, uploadId, image, 0);
  }

  /**
   * Continues upload {@code uploadId} at {@code resumeOffset}: bytes the interrupted attempt
   * wrote past it are dropped (shrink, then grow back as a hole).
   */
  static RbdUpload resume(RbdBackend store, RbdPool pool, String id, String uploadId,
      long virtualSize, long resumeOffset) throws IOException {
    RbdImage image;
    try {
      image = pool.open(ImageContent.privateName(id));
    } catch (RbdException e) {
      if (e.notFound()) {
        throw nothingToResume(id, uploadId);
      }
      throw e;
    }
    try {
      if (!image.metadata(KEY_UPLOAD_ID).orElse("").equals(uploadId)) {
        throw nothingToResume(id, uploadId);
      }
      long kept = Long.parseLong(image.metadata(KEY_DURABLE).orElse("0"));
      if (resumeOffset > kept) {
        throw ApiException.failedPrecondition("resume_offset " + resumeOffset
            + " is past the durable offset " + kept + " of upload " + uploadId);
      }
      image.setMetadata(KEY_DURABLE, Long.toString(resumeOffset));
      image.resize(resumeOffset);
      image.resize(virtualSize);
      return new RbdUpload(store, id, uploadId, image, resumeOffset);
    } catch (IOException | RuntimeException e) {
      image.close();
      throw e;
    }
  }

  /** The durable offset a kept upload recorded, or 0 when it is another upload's. */
  static long keptOffset(RbdImage image, String uploadId) throws IOException {
    if (!image.metadata(KEY_UPLOAD_ID).orElse("").equals(uploadId)) {
      return 0;
    }
    return Long.parseLong(image.metadata(KEY_DURABLE).orElse("0"));
  }

  private static ApiException nothingToResume(String id, String uploadId) {
    return ApiException.failedPrecondition("upload " + uploadId + " of image " + id
        + " has nothing to resume; start again at offset 0");
  }

  String uploadId() {
    return uploadId;
  }

  @Override
  public void data(long offset, ByteBuffer data) throws IOException {
    int n = data.remaining();
    window.write(offset, data);
    advance(offset + n, n);
  }

  @Override
  public void zero(long offset, long length) throws IOException {
    advance(offset + length, 0);  // a hole: never written, the image stays thin there
  }

  private void advance(long to, long written) throws IOException {
    position = to;
    sinceCheckpoint += written;
    if (sinceCheckpoint >= CHECKPOINT_EVERY) {
      image.setMetadata(KEY_DURABLE, Long.toString(window.durable(position)));
      sinceCheckpoint = 0;
    }
  }

  @Override
  public long durableOffset() {
    return window.durable(position);
  }

  @Override
  public ExtentSource durablePrefix() {
    return new RbdExtentSource(image, durableOffset(), false);
  }

  @Override
  public ImageRecord commit(long virtualSize, String contentDigest, boolean checksumPending)
      throws IOException {
    ended = true;
    try {
      window.drain();
      window.close();
      if (image.size() != virtualSize) {
        image.resize(virtualSize);
      }
      image.close();
      return store.publish(this, id, virtualSize, contentDigest, checksumPending);
    } catch (IOException | RuntimeException e) {
      LOG.warn("upload could not be committed; image={} upload={}", id, uploadId, e);
      closeQuietly();
      store.writeEnded(this, id, false);
      throw e;
    }
  }

  @Override
  public void abort(boolean keepForResume) {
    if (ended) {
      return;
    }
    ended = true;
    window.close();  // waits for the writes in flight
    long durable = window.durable(position);
    boolean keep = keepForResume && durable > 0;
    if (keep) {
      try {
        image.setMetadata(KEY_DURABLE, Long.toString(durable));
      } catch (IOException e) {
        LOG.warn("could not record the durable offset; image={} upload={}", id, uploadId, e);
        keep = false;
      }
    }
    closeQuietly();
    store.writeEnded(this, id, keep);
  }

  private void closeQuietly() {
    window.close();
    try {
      image.close();
    } catch (IOException e) {
      LOG.warn("could not close the upload image; image={} upload={}", id, uploadId, e);
    }
  }
}
