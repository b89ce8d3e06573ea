package io.stratus.gateway.store.rbd;

import io.stratus.ceph.RbdImage;
import io.stratus.ceph.Span;
import com.sun.jna.Native;
import io.stratus.gateway.store.Extent;
import io.stratus.gateway.store.ExtentSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Reads an RBD image sparsely: the allocated spans ({@code rbd_diff_iterate2}, asked for
 * one {@link #WINDOW} at a time so memory stays flat) become data extents read with
 * {@code rbd_read} straight into direct buffers, everything else zero extents.
 */
final class RbdExtentSource implements ExtentSource {
  /** How much of the image one allocation query covers. */
  static final long WINDOW = 256L << 20;

  private final RbdImage image;
  private final boolean ownsImage;
  private final long end;
  private final Deque<Span> spans = new ArrayDeque<>();
  private long position;
  private long mapped;

  /**
   * Reads {@code [0, end)} of {@code image}; closes the image on {@link #close} when
   * {@code ownsImage}.
   */
  RbdExtentSource(RbdImage image, long end, boolean ownsImage) {
    this.image = image;
    this.end = end;
    this.ownsImage = ownsImage;
  }

  @Override
  public Extent next(int maxChunk) throws IOException {
    while (spans.isEmpty() && mapped < end) {
      long length = Math.min(WINDOW, end - mapped);
      for (Span s : image.allocated(mapped, length)) {
        long from = Math.max(s.offset(), mapped);
        long to = Math.min(s.end(), mapped + length);
        if (to > from) {
          spans.add(new Span(from, to - from));
        }
      }
      mapped += length;
    }
    Span span = spans.peek();
    if (span == null) {
      if (position < end) {
        Extent tail = new Extent.Zero(position, end - position);
        position = end;
        return tail;
      }
      return null;
    }
    if (position < span.offset()) {
      Extent hole = new Extent.Zero(position, span.offset() - position);
      position = span.offset();
      return hole;
    }
    int n = (int) Math.min(maxChunk, span.end() - position);
    ByteBuffer buf = ByteBuffer.allocateDirect(n);
    image.read(position, Native.getDirectBufferPointer(buf), n);
    Extent data = new Extent.Data(position, buf);
    position += n;
    if (position == span.end()) {
      spans.poll();
    }
    return data;
  }

  @Override
  public void close() throws IOException {
    if (ownsImage) {
      image.close();
    }
  }
}
