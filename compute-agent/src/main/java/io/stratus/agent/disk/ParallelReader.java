package io.stratus.agent.disk;

import io.stratus.support.digest.ChunkDigest;
import io.stratus.support.imageio.BufferPool;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Reads a plan's data extents straight from the chain's files with several threads and
 * hands them over strictly in guest order. The unit of work is a content-digest chunk
 * ({@value ChunkDigest#CHUNK} bytes at a fixed offset): a thread reads every data extent of
 * one chunk into one pooled direct buffer (gaps zeroed), hashes the whole chunk, and the
 * chunk's pieces come out with its digest on the last one ({@link #suppliesChunkDigests}).
 * So SHA-256 runs on all reader threads in parallel, never over holes, and no buffer is
 * allocated per extent. At most {@code inFlight} chunks are read ahead; memory stays at
 * {@code inFlight × 4 MiB} whatever the disk size.
 *
 * <p>The caller runs each piece's {@code release} once it is done with the chunk's bytes
 * (the buffer goes back to the pool); a caller that never releases stalls the reader.
 */
public final class ParallelReader implements DiskReader {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ParallelReader.class);
  private static final int CHUNK = ChunkDigest.CHUNK;

  /** Zero ranges between chunks, or one chunk's reads. */
  private sealed interface Item permits Gap, ChunkRead {}

  private record Gap(DiskExtent zero) implements Item {}

  /** The plan entries of one chunk, from its first data extent to its last (gaps included). */
  private record ChunkRead(long start, int length, List<DiskExtent> members) implements Item {}

  /**
   * The agent's read buffers, shared by every reader: fixed direct memory for the process
   * (a pool per snapshot left its buffers to the garbage collector, which a small heap
   * seldom runs, and the agent's RSS grew with every snapshot). Concurrent readers wait
   * for each other's buffers; each needs two to make progress, and its consumer gives
   * every buffer back, so none waits for ever.
   */
  private static final BufferPool SHARED = new BufferPool(12, CHUNK);

  private final ExecutorService pool;
  private final BufferPool buffers;
  private final Map<Path, FileChannel> files = new HashMap<>();
  private final Iterator<Item> plan;
  private final ArrayDeque<Object> window = new ArrayDeque<>();
  private final ArrayDeque<Piece> ready = new ArrayDeque<>();
  private final int inFlight;
  private final boolean hashChunks;

  public ParallelReader(ExtentPlan plan, int threads, int inFlight) throws IOException {
    this(plan, threads, inFlight, true);
  }

  /** With {@code hashChunks} false no chunk is hashed (a reader whose bytes go elsewhere). */
  public ParallelReader(ExtentPlan plan, int threads, int inFlight, boolean hashChunks)
      throws IOException {
    this.hashChunks = hashChunks;
    this.pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "disk-reader");
      t.setDaemon(true);
      return t;
    });
    this.inFlight = Math.min(inFlight, SHARED.count() - 1);
    this.buffers = SHARED;
    for (DiskExtent e : plan.extents()) {
      if (e.isData() && !files.containsKey(e.file())) {
        files.put(e.file(), FileChannel.open(e.file(), StandardOpenOption.READ));
      }
    }
    this.plan = group(plan).iterator();
  }

  /** Groups the plan into chunk reads and the zero ranges between them. */
  private static List<Item> group(ExtentPlan plan) {
    List<Item> items = new ArrayList<>();
    List<DiskExtent> members = null;
    List<DiskExtent> trailingZeros = new ArrayList<>();
    long chunk = -1;
    for (DiskExtent e : plan.extents()) {
      if (!e.isData()) {
        if (members == null) {
          items.add(new Gap(e));
        } else {
          trailingZeros.add(e);
        }
        continue;
      }
      long c = e.offset() / CHUNK;
      if (members != null && c == chunk) {
        members.addAll(trailingZeros);  // a gap inside the chunk
      } else {
        if (members != null) {
          items.add(chunkRead(chunk, members, plan.virtualSize()));
          trailingZeros.forEach(z -> items.add(new Gap(z)));
        }
        members = new ArrayList<>();
        chunk = c;
      }
      trailingZeros.clear();
      members.add(e);
    }
    if (members != null) {
      items.add(chunkRead(chunk, members, plan.virtualSize()));
      trailingZeros.forEach(z -> items.add(new Gap(z)));
    }
    return items;
  }

  private static ChunkRead chunkRead(long chunk, List<DiskExtent> members, long virtualSize) {
    long start = chunk * CHUNK;
    return new ChunkRead(start, (int) Math.min(CHUNK, virtualSize - start), List.copyOf(members));
  }

  /** Shared buffers free now (tests: a closed reader holds none). */
  static int sharedBuffersFree() {
    return SHARED.available();
  }

  @Override
  public boolean suppliesChunkDigests() {
    return hashChunks;
  }

  /** The next piece in order, or {@code null} at the end. */
  @Override
  public Piece next() throws IOException {
    if (!ready.isEmpty()) {
      return ready.poll();
    }
    fill();
    Object head = window.poll();
    if (head == null) {
      return null;
    }
    if (head instanceof Gap gap) {
      return new Piece(gap.zero(), null);
    }
    @SuppressWarnings("unchecked")
    Future<List<Piece>> f = (Future<List<Piece>>) head;
    try {
      ready.addAll(f.get());
      fill();
      return ready.poll();
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
      Item item = plan.next();
      if (item instanceof ChunkRead c) {
        window.add(pool.submit(() -> read(c)));
        reads++;
      } else {
        window.add(item);
      }
    }
  }

  /** Reads one chunk's data into a pooled buffer, hashes the whole chunk, cuts the pieces. */
  private List<Piece> read(ChunkRead c) throws IOException, InterruptedException {
    ByteBuffer buf = buffers.take();
    try {
      buf.limit(c.length());
      long filled = 0;  // chunk-relative end of what is zeroed or read
      for (DiskExtent e : c.members()) {
        if (!e.isData()) {
          continue;
        }
        int at = (int) (e.offset() - c.start());
        zero(buf, (int) filled, at);
        readFully(files.get(e.file()), buf.duplicate().position(at).limit(at + (int) e.length()),
            e.hostOffset());
        filled = at + e.length();
      }
      zero(buf, (int) filled, c.length());
      byte[] digest = hashChunks
          ? ChunkDigest.digestOf(buf.duplicate().position(0).limit(c.length())) : null;
      List<Piece> pieces = new ArrayList<>(c.members().size());
      for (int i = 0; i < c.members().size(); i++) {
        DiskExtent e = c.members().get(i);
        ByteBuffer data = null;
        if (e.isData()) {
          int at = (int) (e.offset() - c.start());
          data = buf.duplicate().position(at).limit(at + (int) e.length()).slice();
        }
        boolean last = i == c.members().size() - 1;
        pieces.add(new Piece(e, data, last ? digest : null, last ? () -> buffers.give(buf) : null));
      }
      return pieces;
    } catch (IOException | RuntimeException e) {
      buffers.give(buf);
      throw e;
    }
  }

  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(CHUNK).asReadOnlyBuffer();

  private static void zero(ByteBuffer buf, int from, int to) {
    if (to > from) {
      buf.put(from, ZEROS, 0, to - from);
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer into, long hostOffset) throws IOException {
    int start = into.position();
    while (into.hasRemaining()) {
      int n = ch.read(into, hostOffset + into.position() - start);
      if (n < 0) {
        // A raw file may be shorter than its virtual size: the rest reads as zeros.
        zero(into, into.position(), into.limit());
        break;
      }
    }
  }

  /**
   * Stops reading and gives every buffer this reader still holds back to the shared pool:
   * those of chunks read but not consumed (in the window or ready), once the reads in
   * flight ended. A piece already handed out is its consumer's to release. Without this a
   * failed or cancelled upload would keep its buffers for ever, and the agent's snapshots
   * would wait for them once the pool ran dry.
   */
  @Override
  public void close() {
    pool.shutdownNow();
    try {
      if (!pool.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS)) {
        LOG.warn("disk reads did not stop within 30 s; their buffers are lost to the pool");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Object o : window) {
      if (o instanceof Future<?> f && f.isDone() && !f.isCancelled()) {
        try {
          @SuppressWarnings("unchecked")
          List<Piece> pieces = (List<Piece>) f.get();
          ready.addAll(pieces);
        } catch (ExecutionException | InterruptedException e) {
          // the read failed and gave its buffer back itself
        }
      }
    }
    window.clear();
    for (Piece p : ready) {
      if (p.release() != null) {
        p.release().run();
      }
    }
    ready.clear();
    for (FileChannel ch : files.values()) {
      try {
        ch.close();
      } catch (IOException ignored) {
        // read-only handle
      }
    }
  }
}
