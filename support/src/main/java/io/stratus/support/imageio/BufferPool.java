package io.stratus.support.imageio;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * A fixed set of direct buffers for reading image bytes: allocating (and zeroing) a new
 * multi-MiB array per extent costs more than the read itself and makes the heap grow, so
 * readers take a buffer here and give it back once the bytes are sent ({@link
 * ImageUploader#data} copies them before it returns). Memory stays at {@code count × size}.
 * Thread-safe.
 */
public final class BufferPool {
  private final BlockingQueue<ByteBuffer> free;
  private final int size;
  private final int count;

  public BufferPool(int count, int size) {
    this.free = new ArrayBlockingQueue<>(count);
    this.size = size;
    this.count = count;
    for (int i = 0; i < count; i++) {
      free.add(ByteBuffer.allocateDirect(size));
    }
  }

  /** A cleared buffer of {@link #size} bytes; waits while all are in use. */
  public ByteBuffer take() throws InterruptedException {
    ByteBuffer b = free.take();
    b.clear();
    return b;
  }

  /** Gives a buffer back (one that came from {@link #take}). */
  public void give(ByteBuffer b) {
    if (b.capacity() != size || !b.isDirect() || !free.offer(b)) {
      throw new IllegalArgumentException("not a buffer of this pool");
    }
  }

  /** Buffers free now (not taken). */
  public int available() {
    return free.size();
  }

  /** Buffers in the pool. */
  public int count() {
    return count;
  }

  /** Bytes per buffer. */
  public int size() {
    return size;
  }
}
