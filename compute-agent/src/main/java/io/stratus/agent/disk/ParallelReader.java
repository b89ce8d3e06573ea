package io.stratus.agent.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Reads a plan's data extents straight from the chain's files with several threads and
 * hands them over strictly in guest order. At most {@code inFlight} reads are outstanding,
 * so memory stays at {@code inFlight × maxRead} whatever the disk size.
 */
public final class ParallelReader implements DiskReader {
  private final ExecutorService pool;
  private final Map<Path, FileChannel> files = new HashMap<>();
  private final Iterator<DiskExtent> plan;
  private final ArrayDeque<Object> window = new ArrayDeque<>();
  private final int inFlight;

  public ParallelReader(ExtentPlan plan, int threads, int inFlight) throws IOException {
    this.pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "disk-reader");
      t.setDaemon(true);
      return t;
    });
    this.inFlight = inFlight;
    for (DiskExtent e : plan.extents()) {
      if (e.isData() && !files.containsKey(e.file())) {
        files.put(e.file(), FileChannel.open(e.file(), StandardOpenOption.READ));
      }
    }
    this.plan = plan.extents().iterator();
  }

  /** The next piece in order, or {@code null} at the end. */
  public Piece next() throws IOException {
    fill();
    Object head = window.poll();
    if (head == null) {
      return null;
    }
    if (head instanceof DiskExtent zero) {
      return new Piece(zero, null);
    }
    @SuppressWarnings("unchecked")
    Future<Piece> f = (Future<Piece>) head;
    try {
      Piece p = f.get();
      fill();
      return p;
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while reading the disk", e);
    }
  }

  private void fill() {
    long reads = window.stream().filter(o -> o instanceof Future).count();
    while (reads < inFlight && plan.hasNext()) {
      DiskExtent e = plan.next();
      if (e.isData()) {
        FileChannel ch = files.get(e.file());
        window.add(pool.submit(() -> new Piece(e, read(ch, e))));
        reads++;
      } else {
        window.add(e);
      }
    }
  }

  private static ByteBuffer read(FileChannel ch, DiskExtent e) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate((int) e.length());
    while (buf.hasRemaining()) {
      int n = ch.read(buf, e.hostOffset() + buf.position());
      if (n < 0) {
        // A raw file may be shorter than its virtual size: the rest reads as zeros.
        break;
      }
    }
    buf.position(buf.capacity());
    buf.flip();
    return buf;
  }

  @Override
  public void close() {
    pool.shutdownNow();
    for (FileChannel ch : files.values()) {
      try {
        ch.close();
      } catch (IOException ignored) {
        // read-only handle
      }
    }
  }
}
