package io.stratus.support.imageio;

import io.grpc.Status;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.Image;
import io.stratus.support.digest.ExtentChecksums;
import io.stratus.support.digest.PipelinedChunkDigest;
import java.nio.ByteBuffer;

/**
 * Checks a {@code DownloadImage} stream as it is written: each data extent against its
 * CRC32C before the caller stores it, and the whole content against the record's
 * {@code content_digest} at the end. Hashing runs on its own thread and costs the data
 * bytes only. Shared by the agent's image cache and the CLI.
 */
public final class DownloadVerifier implements AutoCloseable {
  private final Image image;
  private final PipelinedChunkDigest digest = new PipelinedChunkDigest();
  private long cursor;

  public DownloadVerifier(Image image) {
    this.image = image;
  }

  /**
   * Checks one data extent and returns its bytes (read-only view); DATA_LOSS when its
   * crc32c is missing or wrong, or it goes back.
   */
  public ByteBuffer data(DataExtent d) {
    ByteBuffer bytes = d.getData().asReadOnlyByteBuffer();
    if (!d.hasCrc32C()) {
      throw loss("extent at " + d.getOffset() + " came without a crc32c");
    }
    if (ExtentChecksums.crc32c(bytes) != d.getCrc32C()) {
      throw loss("extent at " + d.getOffset() + " failed its crc32c");
    }
    if (d.getOffset() < cursor) {
      throw loss("extent at " + d.getOffset() + " goes back before " + cursor);
    }
    digest.data(d.getOffset(), bytes);
    cursor = d.getOffset() + bytes.remaining();
    return bytes;
  }

  /** A zero extent: checks its place only (holes cost nothing). */
  public void zero(long offset, long length) {
    if (offset < cursor || length < 0) {
      throw loss("zero extent at " + offset + " goes back before " + cursor);
    }
    cursor = offset + length;
  }

  /**
   * Ends the stream: the content digest of what arrived, compared with the record's when
   * it has one. Returns whether it was compared.
   */
  public boolean finish() {
    if (cursor > image.getVirtualSize()) {
      throw loss("the stream went past the virtual size " + image.getVirtualSize());
    }
    String got = digest.finish(image.getVirtualSize());
    if (image.getContentDigest().isEmpty()) {
      return false;
    }
    if (!image.getContentDigest().equalsIgnoreCase(got)) {
      throw loss("content digest " + got + " differs from the record's " + image.getContentDigest());
    }
    return true;
  }

  /** The computed content digest (after {@link #finish}). */
  public String contentDigest() {
    return digest.finish(image.getVirtualSize());
  }

  private RuntimeException loss(String why) {
    return Status.DATA_LOSS.withDescription("image " + image.getId() + ": " + why)
        .asRuntimeException();
  }

  @Override
  public void close() {
    digest.close();
  }
}
