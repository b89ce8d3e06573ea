package io.stratus.agent.rbd;

import com.sun.jna.Memory;
import io.stratus.agent.disk.DiskExtent;
import io.stratus.agent.disk.DiskReader;
import io.stratus.ceph.RbdImage;
import io.stratus.ceph.Span;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Reads an RBD snapshot as {@link DiskReader} pieces: the allocated spans
 * ({@code rbd_diff_iterate2} from creation, parent included, so a copy-on-write clone
 * reads its image's bytes too) in reads of at most {@value #CHUNK} bytes with up to
 * {@code threads} in flight, and the gaps as zero pieces — holes are never read or sent.
 * A snapshot is immutable, so the guest keeps running while it is read. Memory: at most
 * {@code threads} chunks.
 */
public final class RbdSnapshotReader implements DiskReader {
  static final int CHUNK = 4 << 20;

  private record Pending(DiskExtent extent, CompletableFuture<ByteBuffer> data) {}

  private final RbdImage snapshot;
  private final long size;
  private final long dataBytes;
  private final Deque<Span> spans;
  private final Deque<Pending> inFlight = new ArrayDeque<>();
  private final ExecutorService readers;
  private final int window;
  private long position;  // next guest offset to hand out
  private long queuedTo;  // next guest offset to queue

  private RbdSnapshotReader(RbdImage snapshot, long size, List<Span> allocated, int threads) {
    this.snapshot = snapshot;
    this.size = size;
    this.dataBytes = allocated.stream().mapToLong(Span::length).sum();
    this.spans = new ArrayDeque<>(allocated);
    this.window = Math.max(1, threads);
    this.readers = Executors.newFixedThreadPool(window, r -> {
      Thread t = new Thread(r, "rbd-read");
      t.setDaemon(true);
      return t;
    });
  }

  /** Takes ownership of {@code snapshot} (opened read-only at the snapshot). */
  static RbdSnapshotReader open(RbdImage snapshot, int threads) throws IOException {
    try {
      long size = snapshot.size();
      return new RbdSnapshotReader(snapshot, size, snapshot.allocated(0, size), threads);
    } catch (IOException | RuntimeException e) {
      snapshot.close();
      throw e;
    }
  }

  /** The snapshot's virtual size. */
  public long size() {
    return size;
  }

  /** Bytes allocated in the snapshot (what will be read). */
  public long dataBytes() {
    return dataBytes;
  }

  @Override
  public Piece next() throws IOException {
    if (position >= size) {
      return null;
    }
    fill();
    Pending head = inFlight.peekFirst();
    if (head == null || head.extent().offset() > position) {
      long end = head == null ? size : head.extent().offset();
      DiskExtent zeros = DiskExtent.zero(position, end - position);
      position = end;
      return new Piece(zeros, null);
    }
    inFlight.removeFirst();
    position = head.extent().offset() + head.extent().length();
    try {
      return new Piece(head.extent(), head.data().get());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while reading " + snapshot.spec(), e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() instanceof UncheckedIOException u ? u.getCause() : e.getCause();
      throw cause instanceof IOException io ? io : new IOException(cause);
    }
  }

  /** Queues reads of the next chunks until the window is full. */
  private void fill() {
    while (inFlight.size() < window && !spans.isEmpty()) {
      Span span = spans.peekFirst();
      long from = Math.max(span.offset(), queuedTo);
      long to = Math.min(span.end(), from + CHUNK);
      if (to >= span.end()) {
        spans.removeFirst();
      }
      queuedTo = to;
      if (to <= from) {
        continue;
      }
      DiskExtent extent = new DiskExtent(from, to - from, null, -1);
      inFlight.addLast(new Pending(extent, CompletableFuture.supplyAsync(() -> read(extent), readers)));
    }
  }

  private ByteBuffer read(DiskExtent e) {
    int n = (int) e.length();
    try (Memory buf = new Memory(n)) {
      snapshot.read(e.offset(), buf, n);
      byte[] copy = new byte[n];
      buf.read(0, copy, 0, n);
      return ByteBuffer.wrap(copy);
    } catch (IOException io) {
      throw new UncheckedIOException(io);
    }
  }

  @Override
  public void close() {
    readers.shutdownNow();
    for (Pending p : inFlight) {
      p.data().cancel(true);
    }
    try {
      readers.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      snapshot.close();
    } catch (IOException e) {
      // read-only handle: nothing to lose
    }
  }
}
