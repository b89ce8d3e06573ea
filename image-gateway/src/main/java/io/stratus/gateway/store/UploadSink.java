package io.stratus.gateway.store;

import io.stratus.gateway.domain.ImageRecord;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where one upload's bytes go. The gateway core calls it with extents already checked to
 * be in increasing, non-overlapping offset order within the virtual size and their CRC32C
 * verified, and computes the content digest itself. Exactly one of {@link #commit} or {@link #abort} ends it.
 */
public interface UploadSink {
  /** Writes bytes at {@code offset}. */
  void data(long offset, ByteBuffer data) throws IOException;

  /** Records that {@code [offset, offset + length)} reads as zeros (a backend keeps it a hole). */
  void zero(long offset, long length) throws IOException;

  /**
   * Offset up to which everything received is durable, so a resumed upload can start
   * there (0 for a backend that cannot resume).
   */
  long durableOffset() throws IOException;

  /**
   * The durable prefix's content, read back to rebuild the digests of a resumed upload.
   * Only called on backends whose {@link ImageBackend#resumableOffset} can be non-zero.
   */
  default ExtentSource durablePrefix() throws IOException {
    throw new UnsupportedOperationException("this store cannot resume uploads");
  }

  /**
   * Bytes the store must hold once content of {@code virtualSize} bytes is committed: the
   * virtual size for raw stores, the file size for a compact layout.
   */
  default long storedBytes(long virtualSize) {
    return virtualSize;
  }

  /**
   * Makes the content durable and visible: the image becomes active with the given size
   * and content digest. With {@code checksumPending} the gateway's background pass is still
   * to come: the record is marked {@link ImageRecord#CHECKSUM_PENDING} (md5 and sha512 to
   * fill, the digest to check), or, by a backend that computes md5 and sha512 itself like
   * Glance, {@link ImageRecord#DIGEST_PENDING} (only the digest to check).
   */
  ImageRecord commit(long virtualSize, String contentDigest, boolean checksumPending)
      throws IOException;

  /**
   * Ends the upload without content: the image goes back to queued. With {@code
   * keepForResume} a backend that supports resuming keeps the durable prefix privately
   * (never visible) for a later upload with the same id; otherwise nothing is left.
   */
  void abort(boolean keepForResume);
}
