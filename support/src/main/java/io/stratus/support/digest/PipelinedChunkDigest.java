package io.stratus.support.digest;

import java.nio.ByteBuffer;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;

/**
 * A {@link ChunkDigest} computed on its own thread, so hashing overlaps with receiving and
 * writing. At most {@link #MAX_PENDING} buffers are handed over and not yet hashed, so
 * memory stays flat. Callers must not modify a buffer after handing it over. One feeder.
 */
public final class PipelinedChunkDigest implements AutoCloseable {
  /** Buffers handed over but not yet hashed. */
  public static final int MAX_PENDING = 4;

  private final ChunkDigest digest = new ChunkDigest();
  private final ExecutorService thread = Executors.newSingleThreadExecutor(
      Thread.ofPlatform().daemon().name("chunk-digest").factory());
  private final Semaphore pending = new Semaphore(MAX_PENDING);
  private Future<?> last;
  private String result;

  /** Hands over {@code data} at guest {@code offset} (offsets must not go back). */
  public void data(long offset, ByteBuffer data) {
    ByteBuffer view = data.asReadOnlyBuffer();
    pending.acquireUninterruptibly();
    last = thread.submit(() -> {
      try {
        digest.data(offset, view);
      } finally {
        pending.release();
      }
    });
  }

  /** Waits for the hashing and returns the digest of content of {@code size} bytes. */
  public String finish(long size) {
    if (result == null) {
      try {
        if (last != null) {
          last.get();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while hashing", e);
      } catch (ExecutionException e) {
        throw e.getCause() instanceof RuntimeException re ? re
            : new IllegalStateException("hashing failed", e.getCause());
      }
      result = digest.finish(size);
      close();
    }
    return result;
  }

  /** Stops the hashing thread (also when the content is abandoned). */
  @Override
  public void close() {
    thread.shutdownNow();
  }
}
