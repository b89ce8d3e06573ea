package io.stratus.gateway.store.glance;

import io.stratus.gateway.store.Extent;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.support.errors.ApiException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a qcow2 image's guest content from one sequential stream (Glance's {@code GET
 * /v2/images/ID/file}) without seeking: the header, then the L1 table, then the L2 tables,
 * then the data clusters in guest order — the layout {@link Qcow2Layout} writes. Holes
 * come out as zero extents, so a compact image downloads sparse. A qcow2 laid out
 * otherwise (metadata after data, data out of guest order, compressed or encrypted
 * clusters, a backing file) is refused with FAILED_PRECONDITION naming what is in the
 * way, never read as different content.
 */
final class Qcow2ExtentSource implements ExtentSource {
  private static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
  private static final long COMPRESSED = 1L << 62;
  private static final long ZERO_FLAG = 1L;
  /** Largest L1 table read (entries): 2^22 entries map 2 PiB with 64 KiB clusters. */
  private static final int MAX_L1 = 1 << 22;

  /** A run of guest clusters stored consecutively from {@code fileOffset}. */
  private record Run(long guestCluster, long clusters, long fileOffset) {}

  private final String id;
  private final InputStream body;
  private long position;
  private long virtualSize;
  private int clusterBits;
  private List<Run> runs;
  private int nextRun;
  /** Guest offset up to which extents were handed out. */
  private long guestDone;
  /** Inside the current run: guest offset of the next data byte. */
  private long runGuest;
  private long runGuestEnd;
  private boolean started;

  Qcow2ExtentSource(String id, InputStream body) {
    this.id = id;
    this.body = body;
  }

  /** The guest size the header states (reads the metadata on first use). */
  long virtualSize() throws IOException {
    start();
    return virtualSize;
  }

  private void start() throws IOException {
    if (started) {
      return;
    }
    started = true;
    ByteBuffer h = ByteBuffer.wrap(read(104));
    if (h.getInt(0) != Qcow2Layout.MAGIC) {
      throw refuse("it does not start with the qcow2 magic");
    }
    int version = h.getInt(4);
    if (version != 2 && version != 3) {
      throw refuse("its qcow2 version is " + version);
    }
    if (h.getLong(8) != 0) {
      throw refuse("it has a backing file");
    }
    clusterBits = h.getInt(20);
    if (clusterBits < 9 || clusterBits > 21) {
      throw refuse("its cluster_bits is " + clusterBits);
    }
    virtualSize = h.getLong(24);
    if (h.getInt(32) != 0) {
      throw refuse("it is encrypted");
    }
    int l1Size = h.getInt(36);
    long l1Offset = h.getLong(40);
    if (version == 3 && h.getLong(72) != 0) {
      throw refuse("it has incompatible features 0x" + Long.toHexString(h.getLong(72)));
    }
    long cluster = 1L << clusterBits;
    long entriesPerL2 = cluster / 8;
    if (virtualSize < 0 || l1Size < 0 || l1Size > MAX_L1
        || l1Size < (virtualSize + cluster * entriesPerL2 - 1) / (cluster * entriesPerL2)) {
      throw refuse("its header is inconsistent (size " + virtualSize + ", l1_size " + l1Size + ")");
    }
    skipTo(l1Offset, "the L1 table");
    ByteBuffer l1 = ByteBuffer.wrap(read(8 * l1Size));
    List<long[]> tables = new ArrayList<>();  // {file offset, l1 index}
    for (int i = 0; i < l1Size; i++) {
      long at = l1.getLong(i * 8) & OFFSET_MASK;
      if (at != 0) {
        tables.add(new long[] {at, i});
      }
    }
    tables.sort((a, b) -> Long.compare(a[0], b[0]));
    List<Run> found = new ArrayList<>();
    for (long[] t : tables) {
      skipTo(t[0], "an L2 table");
      ByteBuffer l2 = ByteBuffer.wrap(read((int) cluster));
      long firstGuest = t[1] * entriesPerL2;
      for (int j = 0; j < entriesPerL2; j++) {
        long e = l2.getLong(j * 8);
        if ((e & COMPRESSED) != 0) {
          throw refuse("it has compressed clusters");
        }
        long at = e & OFFSET_MASK;
        if (at == 0 || (version == 3 && (e & ZERO_FLAG) != 0)) {
          continue;  // unallocated or reads as zeros
        }
        append(found, new Run(firstGuest + j, 1, at));
      }
    }
    found.sort((a, b) -> Long.compare(a.guestCluster(), b.guestCluster()));
    runs = new ArrayList<>();
    long fileEnd = position;  // data must follow every piece of metadata read
    for (Run r : found) {
      if (r.fileOffset() < fileEnd) {
        throw refuse("its data clusters are not stored after its metadata in guest order");
      }
      fileEnd = r.fileOffset() + (r.clusters() << clusterBits);
      append(runs, r);
    }
  }

  /** Adds {@code r}, extending the last run when it continues it in guest and file. */
  private void append(List<Run> list, Run r) {
    Run last = list.isEmpty() ? null : list.get(list.size() - 1);
    if (last != null && last.guestCluster() + last.clusters() == r.guestCluster()
        && last.fileOffset() + (last.clusters() << clusterBits) == r.fileOffset()) {
      list.set(list.size() - 1, new Run(last.guestCluster(), last.clusters() + r.clusters(),
          last.fileOffset()));
    } else {
      list.add(r);
    }
  }

  @Override
  public Extent next(int maxChunk) throws IOException {
    start();
    if (runGuest < runGuestEnd) {
      int n = (int) Math.min(maxChunk, runGuestEnd - runGuest);
      Extent data = new Extent.Data(runGuest, ByteBuffer.wrap(read(n)));
      runGuest += n;
      guestDone = runGuest;
      return data;
    }
    if (nextRun < runs.size()) {
      Run r = runs.get(nextRun);
      long guest = r.guestCluster() << clusterBits;
      if (guest >= virtualSize) {
        throw refuse("it maps clusters beyond its virtual size");
      }
      if (guest > guestDone) {
        Extent zero = new Extent.Zero(guestDone, guest - guestDone);
        guestDone = guest;
        return zero;
      }
      nextRun++;
      skipTo(r.fileOffset(), "a data cluster");
      runGuest = guest;
      // a last cluster past the virtual size is not read: nothing follows it
      runGuestEnd = Math.min(virtualSize, guest + (r.clusters() << clusterBits));
      return next(maxChunk);
    }
    if (guestDone < virtualSize) {
      Extent zero = new Extent.Zero(guestDone, virtualSize - guestDone);
      guestDone = virtualSize;
      return zero;
    }
    return null;
  }

  private byte[] read(int n) throws IOException {
    byte[] b = body.readNBytes(n);
    if (b.length < n) {
      throw new IOException("Glance's copy of image " + id + " ends at byte "
          + (position + b.length) + ", inside its qcow2 content");
    }
    position += n;
    return b;
  }

  private void skipTo(long offset, String what) throws IOException {
    if (offset < position) {
      throw refuse(what + " lies at " + offset + ", before bytes already read (" + position
          + "): the file cannot be read as one stream");
    }
    long left = offset - position;
    while (left > 0) {
      long n = body.skip(left);
      if (n <= 0) {
        if (body.read() < 0) {
          throw new IOException("Glance's copy of image " + id + " ends at byte " + position
              + ", before " + what);
        }
        n = 1;
      }
      left -= n;
      position += n;
    }
  }

  private ApiException refuse(String why) {
    return ApiException.failedPrecondition("image " + id + " is stored in Glance as a qcow2 that"
        + " cannot be streamed: " + why);
  }

  @Override
  public void close() throws IOException {
    body.close();
  }
}
