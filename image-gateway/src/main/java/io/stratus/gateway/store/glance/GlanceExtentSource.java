package io.stratus.gateway.store.glance;

import io.stratus.gateway.store.Extent;
import io.stratus.gateway.store.ExtentSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Reads an image's content from {@code GET /v2/images/ID/file} as it streams in. Glance
 * stores holes as zeros, so the stream is cut into {@value #BLOCK}-byte blocks and every
 * run of all-zero blocks becomes one zero extent again: a sparse image downloads sparse.
 * Runs of other blocks are data extents of at most {@code maxChunk} bytes. A body shorter
 * or longer than the image's size is an error, never a silently different image.
 */
final class GlanceExtentSource implements ExtentSource {
  /** Granularity of hole detection (qcow2's default cluster size). */
  static final int BLOCK = 64 << 10;
  private static final byte[] ZEROS = new byte[BLOCK];

  private final String id;
  private final InputStream body;
  private final long size;
  /** Bytes read from the stream so far. */
  private long read;
  private byte[] buf;
  /** Offset in the image of {@code buf[0]}. */
  private long bufOffset;
  private int bufLen;
  private int bufPos;
  /** Part of {@code buf} was handed out as a data extent: the next fill needs a new array. */
  private boolean bufShared;
  private long zeroStart = -1;

  GlanceExtentSource(String id, InputStream body, long size) {
    this.id = id;
    this.body = body;
    this.size = size;
  }

  @Override
  public Extent next(int maxChunk) throws IOException {
    while (true) {
      if (bufPos == bufLen && !fill(maxChunk)) {
        return endOfZeros();
      }
      int block = Math.min(BLOCK, bufLen - bufPos);
      if (isZero(bufPos, block)) {
        if (zeroStart < 0) {
          zeroStart = bufOffset + bufPos;
        }
        bufPos += block;
        continue;
      }
      if (zeroStart >= 0) {
        return endOfZeros();  // the data block is taken on the next call
      }
      int start = bufPos;
      bufPos += block;
      while (bufPos < bufLen) {
        int n = Math.min(BLOCK, bufLen - bufPos);
        if (isZero(bufPos, n)) {
          break;
        }
        bufPos += n;
      }
      bufShared = true;
      return new Extent.Data(bufOffset + start, ByteBuffer.wrap(buf, start, bufPos - start).slice());
    }
  }

  /** The zero run that just ended, or null at the end of the content. */
  private Extent endOfZeros() {
    if (zeroStart < 0) {
      return null;
    }
    long end = bufOffset + bufPos;
    Extent zero = new Extent.Zero(zeroStart, end - zeroStart);
    zeroStart = -1;
    return zero;
  }

  /** Reads the next up to {@code maxChunk} bytes; false at the end of the content. */
  private boolean fill(int maxChunk) throws IOException {
    bufOffset += bufLen;
    bufLen = 0;
    bufPos = 0;
    if (read >= size) {
      if (body.read() >= 0) {
        throw new IOException("Glance sent more than the " + size + " bytes of image " + id);
      }
      return false;
    }
    int want = (int) Math.min(maxChunk, size - read);
    if (buf == null || bufShared || buf.length != want) {
      buf = new byte[want];
      bufShared = false;
    }
    int got = body.readNBytes(buf, 0, want);
    if (got < want) {
      throw new IOException("Glance sent " + (read + got) + " bytes of image " + id
          + ", which has " + size);
    }
    read += got;
    bufLen = got;
    return true;
  }

  private boolean isZero(int from, int length) {
    return Arrays.mismatch(buf, from, from + length, ZEROS, 0, length) < 0;
  }

  @Override
  public void close() throws IOException {
    body.close();
  }
}
