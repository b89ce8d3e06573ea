package io.stratus.gateway.store.glance;

import io.stratus.support.imageio.Allocation;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A compact qcow2 (version 3, 64 KiB clusters, 16-bit refcounts, no backing file) laid out
 * before the first byte from an upload's {@link Allocation}, so it can be written as one
 * sequential stream — to a store without sparse writes, such as Glance — holding only the
 * allocated clusters, as Nova's qcow2 snapshots do:
 *
 * <pre>
 *   cluster 0            header (+ end-of-extensions marker)
 *   L1 table             one entry per 512 MiB of virtual size
 *   refcount table       one entry per refcount block
 *   refcount blocks      refcount 1 for every cluster of the file
 *   L2 tables            one per 512 MiB that holds data, in guest order
 *   data clusters        every allocated guest cluster, in guest order
 * </pre>
 *
 * Metadata comes first and data clusters follow in guest order, so a reader of the stream
 * ({@link Qcow2ExtentSource}) needs no seeks either. The file has no leaked or unreferenced
 * cluster: {@code qemu-img check} passes.
 */
final class Qcow2Layout {
  static final int MAGIC = 0x514649fb;
  static final int CLUSTER_BITS = 16;
  static final int CLUSTER = 1 << CLUSTER_BITS;
  /** Entries of one L2 table (guest clusters it maps). */
  static final int L2_ENTRIES = CLUSTER / 8;
  /** 16-bit refcounts per refcount block. */
  static final int REFCOUNTS_PER_BLOCK = CLUSTER / 2;
  /** Entry flag: the cluster's refcount is exactly one. */
  static final long COPIED = 1L << 63;
  static final int HEADER_LENGTH = 104;

  private final long virtualSize;
  /** Allocated guest clusters as runs [runStart, runEnd), increasing, non-touching. */
  private final long[] runStart;
  private final long[] runEnd;
  /** Allocated clusters before run i: the data cluster index of its first cluster. */
  private final long[] runRank;
  private final long dataClusters;
  private final int l1Size;
  private final long l1Clusters;
  /** L1 indexes that have an L2 table, increasing; table t sits at l2Offset + t clusters. */
  private final int[] l2Tables;
  private final long reftableClusters;
  private final long refblockClusters;
  private final long l1Offset;
  private final long reftableOffset;
  private final long refblocksOffset;
  private final long l2Offset;
  private final long dataOffset;
  private final long totalClusters;

  private Qcow2Layout(long virtualSize, long[] runStart, long[] runEnd) {
    this.virtualSize = virtualSize;
    this.runStart = runStart;
    this.runEnd = runEnd;
    this.runRank = new long[runStart.length];
    long rank = 0;
    int[] tables = new int[16];
    int nTables = 0;
    for (int i = 0; i < runStart.length; i++) {
      runRank[i] = rank;
      rank += runEnd[i] - runStart[i];
      for (long t = runStart[i] / L2_ENTRIES; t <= (runEnd[i] - 1) / L2_ENTRIES; t++) {
        if (nTables == 0 || tables[nTables - 1] != t) {
          if (nTables == tables.length) {
            tables = Arrays.copyOf(tables, nTables * 2);
          }
          tables[nTables++] = (int) t;
        }
      }
    }
    this.dataClusters = rank;
    this.l2Tables = Arrays.copyOf(tables, nTables);
    this.l1Size = (int) ceilDiv(virtualSize, (long) CLUSTER * L2_ENTRIES);
    this.l1Clusters = ceilDiv(8L * l1Size, CLUSTER);
    long fixed = 1 + l1Clusters + nTables + dataClusters;
    long rb = 0;
    long rt = 0;
    while (true) {  // refcount blocks count themselves: grows to a fixed point in a few steps
      long nrb = ceilDiv(fixed + rb + rt, REFCOUNTS_PER_BLOCK);
      long nrt = ceilDiv(8 * nrb, CLUSTER);
      if (nrb == rb && nrt == rt) {
        break;
      }
      rb = nrb;
      rt = nrt;
    }
    this.refblockClusters = rb;
    this.reftableClusters = rt;
    this.l1Offset = CLUSTER;
    this.reftableOffset = l1Offset + l1Clusters * CLUSTER;
    this.refblocksOffset = reftableOffset + reftableClusters * CLUSTER;
    this.l2Offset = refblocksOffset + refblockClusters * CLUSTER;
    this.dataOffset = l2Offset + (long) nTables * CLUSTER;
    this.totalClusters = fixed + rb + rt;
  }

  /** The layout of content of {@code virtualSize} bytes whose data lies in {@code allocation}. */
  static Qcow2Layout of(long virtualSize, Allocation allocation) {
    if (virtualSize <= 0) {
      throw new IllegalArgumentException("a qcow2 layout needs a positive virtual size");
    }
    long lastCluster = ceilDiv(virtualSize, CLUSTER);
    long[] starts = new long[allocation.size()];
    long[] ends = new long[allocation.size()];
    int n = 0;
    for (int i = 0; i < allocation.size(); i++) {
      long s = allocation.start(i) >>> CLUSTER_BITS;
      long e = Math.min(lastCluster, ceilDiv(allocation.end(i), CLUSTER));
      if (n > 0 && s <= ends[n - 1]) {
        ends[n - 1] = Math.max(ends[n - 1], e);  // ranges sharing or touching a cluster
      } else {
        starts[n] = s;
        ends[n] = e;
        n++;
      }
    }
    return new Qcow2Layout(virtualSize, Arrays.copyOf(starts, n), Arrays.copyOf(ends, n));
  }

  /** Bytes of metadata before the first data cluster (a whole number of clusters). */
  long metadataBytes() {
    return dataOffset;
  }

  /** Size of the whole file. */
  long fileSize() {
    return totalClusters * CLUSTER;
  }

  /** Allocated guest clusters. */
  long dataClusters() {
    return dataClusters;
  }

  /**
   * Where guest byte {@code guestOffset} lies in the file. The guest cluster must be
   * allocated; consecutive allocated clusters are consecutive in the file.
   */
  long fileOffset(long guestOffset) {
    long cluster = guestOffset >>> CLUSTER_BITS;
    int run = runOf(cluster);
    if (run < 0) {
      throw new IllegalArgumentException("guest offset " + guestOffset
          + " lies in no allocated cluster");
    }
    long index = runRank[run] + (cluster - runStart[run]);
    return dataOffset + (index << CLUSTER_BITS) + (guestOffset & (CLUSTER - 1));
  }

  /** The run holding {@code cluster}, or -1. */
  private int runOf(long cluster) {
    int i = Arrays.binarySearch(runStart, cluster);
    if (i < 0) {
      i = -i - 2;
    }
    return i >= 0 && cluster < runEnd[i] ? i : -1;
  }

  /** The {@code index}-th cluster of metadata (index below {@code metadataBytes() / CLUSTER}). */
  ByteBuffer metadataCluster(long index) {
    long at = index * CLUSTER;
    ByteBuffer b = ByteBuffer.allocate(CLUSTER);
    if (at == 0) {
      header(b);
    } else if (at < reftableOffset) {
      l1(b, (at - l1Offset) / 8);
    } else if (at < refblocksOffset) {
      long first = (at - reftableOffset) / 8;
      for (int k = 0; k < L2_ENTRIES && first + k < refblockClusters; k++) {
        b.putLong(k * 8, refblocksOffset + (first + k) * CLUSTER);
      }
    } else if (at < l2Offset) {
      long first = (at - refblocksOffset) / CLUSTER * REFCOUNTS_PER_BLOCK;
      for (int k = 0; k < REFCOUNTS_PER_BLOCK && first + k < totalClusters; k++) {
        b.putShort(k * 2, (short) 1);
      }
    } else if (at < dataOffset) {
      l2(b, l2Tables[(int) ((at - l2Offset) / CLUSTER)]);
    } else {
      throw new IllegalArgumentException("cluster " + index + " is data, not metadata");
    }
    return b;
  }

  private void header(ByteBuffer b) {
    b.putInt(0, MAGIC);
    b.putInt(4, 3);                           // version
    b.putLong(8, 0);                          // backing_file_offset
    b.putInt(16, 0);                          // backing_file_size
    b.putInt(20, CLUSTER_BITS);
    b.putLong(24, virtualSize);
    b.putInt(32, 0);                          // crypt_method
    b.putInt(36, l1Size);
    b.putLong(40, l1Offset);
    b.putLong(48, reftableOffset);
    b.putInt(56, (int) reftableClusters);
    b.putInt(60, 0);                          // nb_snapshots
    b.putLong(64, 0);                         // snapshots_offset
    b.putLong(72, 0);                         // incompatible_features
    b.putLong(80, 0);                         // compatible_features
    b.putLong(88, 0);                         // autoclear_features
    b.putInt(96, 4);                          // refcount_order: 16-bit refcounts
    b.putInt(100, HEADER_LENGTH);
    b.putInt(HEADER_LENGTH, 0);               // header extension: end marker
    b.putInt(HEADER_LENGTH + 4, 0);
  }

  /** L1 entries from {@code first}: the L2 table of each 512 MiB that holds data. */
  private void l1(ByteBuffer b, long first) {
    for (int k = 0; k < L2_ENTRIES && first + k < l1Size; k++) {
      int t = Arrays.binarySearch(l2Tables, (int) (first + k));
      if (t >= 0) {
        b.putLong(k * 8, (l2Offset + (long) t * CLUSTER) | COPIED);
      }
    }
  }

  /** The L2 table of L1 entry {@code l1Index}: where each allocated guest cluster lies. */
  private void l2(ByteBuffer b, int l1Index) {
    long from = (long) l1Index * L2_ENTRIES;
    long to = from + L2_ENTRIES;
    int i = Arrays.binarySearch(runStart, from);
    if (i < 0) {
      i = Math.max(0, -i - 2);
    }
    for (; i < runStart.length && runStart[i] < to; i++) {
      long s = Math.max(from, runStart[i]);
      long e = Math.min(to, runEnd[i]);
      for (long c = s; c < e; c++) {
        long index = runRank[i] + (c - runStart[i]);
        b.putLong((int) (c - from) * 8, (dataOffset + (index << CLUSTER_BITS)) | COPIED);
      }
    }
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
