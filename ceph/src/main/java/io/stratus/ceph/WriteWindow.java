package io.stratus.ceph;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Asynchronous writes into one RBD image with a bounded window ({@link #MAX_WRITES} writes,
 * {@link #MAX_BYTES} bytes in flight), so the OSDs work on earlier extents while the gateway
 * receives and hashes the next ones — a synchronous write per extent would leave the
 * cluster idle most of the time. Each extent is copied once into a pooled native buffer
 * that stays untouched until its write completed. Writes are retired in submission order,
 * so everything before the oldest write still in flight is on the OSDs. Thread-safe: the
 * upload's thread writes, any thread may ask how far it is durable.
 */
public final class WriteWindow implements AutoCloseable {
  public static final int MAX_WRITES = 16;
  public static final long MAX_BYTES = 32L << 20;

  private static final LibRbd LIB = LibRbd.LIB;

  private record InFlight(long offset, long length, Pointer completion, Memory buffer) {}

  private final RbdImage image;
  private final Deque<InFlight> inFlight = new ArrayDeque<>();
  private final Deque<Memory> spare = new ArrayDeque<>();
  private long bytesInFlight;
  private long failedAt = -1;
  private IOException failure;

  public WriteWindow(RbdImage image) {
    this.image = image;
  }

  /** Queues a write of {@code data} at {@code offset}; blocks while the window is full. */
  public synchronized void write(long offset, ByteBuffer data) throws IOException {
    int n = data.remaining();
    retireCompleted();
    while (!inFlight.isEmpty() && (inFlight.size() >= MAX_WRITES || bytesInFlight + n > MAX_BYTES)) {
      retireOldest();
    }
    throwIfFailed();
    Memory buffer = buffer(n);
    buffer.getByteBuffer(0, n).put(data.duplicate());
    Pointer completion;
    try {
      completion = image.aioWrite(offset, buffer, n);
    } catch (IOException e) {
      spare.push(buffer);
      throw e;
    }
    inFlight.add(new InFlight(offset, n, completion, buffer));
    bytesInFlight += n;
  }

  /**
   * How far the image is durable, given that everything up to {@code received} was handed
   * over: the start of the oldest write in flight (or of the first that failed).
   */
  public synchronized long durable(long received) {
    retireCompleted();
    if (failedAt >= 0) {
      return failedAt;
    }
    return inFlight.isEmpty() ? received : inFlight.peek().offset();
  }

  /** Waits for every write; throws the first failure. */
  public synchronized void drain() throws IOException {
    while (!inFlight.isEmpty()) {
      retireOldest();
    }
    throwIfFailed();
  }

  private void retireCompleted() {
    while (!inFlight.isEmpty() && LIB.rbd_aio_is_complete(inFlight.peek().completion()) != 0) {
      retireOldest();
    }
  }

  private void retireOldest() {
    InFlight w = inFlight.poll();
    LIB.rbd_aio_wait_for_complete(w.completion());
    long r = LIB.rbd_aio_get_return_value(w.completion());
    LIB.rbd_aio_release(w.completion());
    bytesInFlight -= w.length();
    spare.push(w.buffer());
    if (r < 0 && failure == null) {
      failedAt = w.offset();
      failure = new RbdException("rbd_aio_write2", image.spec() + " at " + w.offset(), (int) -r);
    }
  }

  private void throwIfFailed() throws IOException {
    if (failure != null) {
      throw failure;
    }
  }

  private Memory buffer(int n) {
    Memory m = spare.poll();
    if (m != null && m.size() >= n) {
      return m;
    }
    if (m != null) {
      m.close();
    }
    return new Memory(Math.max(n, 1 << 20));
  }

  /** Waits for what is in flight (errors are kept for {@link #durable}) and frees buffers. */
  @Override
  public synchronized void close() {
    while (!inFlight.isEmpty()) {
      retireOldest();
    }
    spare.forEach(Memory::close);
    spare.clear();
  }
}
