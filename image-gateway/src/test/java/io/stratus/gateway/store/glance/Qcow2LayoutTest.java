package io.stratus.gateway.store.glance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.stratus.gateway.store.Extent;
import io.stratus.support.errors.ApiException;
import io.stratus.support.imageio.Allocation;
import io.stratus.support.imageio.SparseFiles;
import io.stratus.testkit.QemuImgTool;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The compact qcow2 the Glance store writes, judged by qemu itself: {@code qemu-img check}
 * finds no error or leak and {@code qemu-img compare} finds the guest content equal to the
 * raw content; and our streaming reader gives that content back from one pass over the
 * file, and refuses qcow2 files it cannot stream instead of misreading them.
 */
class Qcow2LayoutTest {
  private static final long MIB = 1 << 20;
  private static final int CLUSTER = Qcow2Layout.CLUSTER;

  @TempDir
  Path dir;

  /** A run of guest data. */
  private record Run(long offset, byte[] bytes) {}

  private static Run run(long offset, int length, long seed) {
    byte[] b = new byte[length];
    new Random(seed).nextBytes(b);
    return new Run(offset, b);
  }

  @Test
  void unalignedRunsAcrossL2TablesAndAPartialLastClusterAreReadByQemuAsWritten() throws Exception {
    long size = 1536 * MIB + 25 * 512;  // three L2 tables' worth, last cluster partial
    List<Run> runs = List.of(
        run(100, 3000, 1),                       // inside cluster 0, which also holds the header's twin
        run(CLUSTER - 10, 20, 2),                // straddles clusters 0 and 1
        run(5 * MIB + 13, (int) MIB + 7, 3),
        run(512 * MIB - 4096, 8192, 4),          // straddles the first L2 table's end
        run(1024 * MIB + 5, 100, 5),
        run(size - 1000, 1000, 6));              // the partial last cluster
    Path qcow2 = write(size, runs, allocationOf(runs));
    Path raw = raw(size, runs);
    assertQemuAgrees(qcow2, raw);
    Qcow2Layout layout = Qcow2Layout.of(size, allocationOf(runs));
    assertEquals(layout.fileSize(), Files.size(qcow2));
    assertTrue(layout.fileSize() < 16 * MIB, "compact: " + layout.fileSize() + " bytes");
    assertStreamsBack(qcow2, raw, size);
  }

  @Test
  void anAllocationWiderThanTheDataStoresZerosInsideIt() throws Exception {
    long size = 64 * MIB;
    List<Run> runs = List.of(run(MIB, 4096, 7), run(40 * MIB, 70_000, 8));
    Allocation wide = Allocation.builder().add(0, 8 * MIB).add(39 * MIB, 2 * MIB).build();
    Path qcow2 = write(size, runs, wide);
    assertQemuAgrees(qcow2, raw(size, runs));
    assertEquals((8 + 2) * MIB / CLUSTER, Qcow2Layout.of(size, wide).dataClusters());
    assertStreamsBack(qcow2, raw(size, runs), size);
  }

  @Test
  void anEmptyAllocationIsAnImageOfHolesOnly() throws Exception {
    long size = 10 * MIB;
    Path qcow2 = write(size, List.of(), Allocation.builder().build());
    assertQemuAgrees(qcow2, raw(size, List.of()));
    assertStreamsBack(qcow2, raw(size, List.of()), size);
  }

  @Test
  void aQcow2ThatCannotBeStreamedIsRefusedNamingWhy() throws Exception {
    byte[] compressible = new byte[3 * CLUSTER];
    java.util.Arrays.fill(compressible, (byte) 'A');
    Path raw = raw(8 * MIB, List.of(new Run(0, compressible)));
    Path compressed = dir.resolve("compressed.qcow2");
    QemuImgTool.run("convert", "-c", "-f", "raw", "-O", "qcow2", raw.toString(), compressed.toString());
    var e = assertThrows(ApiException.class, () -> readAll(compressed, 1 << 20));
    assertEquals(ApiException.Kind.FAILED_PRECONDITION, e.kind());
    assertTrue(e.getMessage().contains("compressed clusters"), e.getMessage());

    Path overlay = dir.resolve("overlay.qcow2");
    QemuImgTool.run("create", "-f", "qcow2", "-b", compressed.toString(), "-F", "qcow2",
        overlay.toString());
    e = assertThrows(ApiException.class, () -> readAll(overlay, 1 << 20));
    assertTrue(e.getMessage().contains("backing file"), e.getMessage());

    Path notQcow2 = raw;
    e = assertThrows(ApiException.class, () -> readAll(notQcow2, 1 << 20));
    assertTrue(e.getMessage().contains("magic"), e.getMessage());
  }

  @Test
  void aFileCutShortIsAnErrorNotShorterContent() throws Exception {
    List<Run> runs = List.of(run(0, 2 * CLUSTER, 10));
    Path qcow2 = write(4 * MIB, runs, allocationOf(runs));
    try (FileChannel ch = FileChannel.open(qcow2, StandardOpenOption.WRITE)) {
      ch.truncate(Files.size(qcow2) - 100);
    }
    var e = assertThrows(IOException.class, () -> readAll(qcow2, 1 << 20));
    assertTrue(e.getMessage().contains("ends at byte"), e.getMessage());
  }

  private static Allocation allocationOf(List<Run> runs) {
    Allocation.Builder b = Allocation.builder();
    runs.forEach(r -> b.add(r.offset(), r.bytes().length));
    return b.build();
  }

  /** Writes the layout as the Glance upload sends it: metadata, then data at its place. */
  private Path write(long size, List<Run> runs, Allocation allocation) throws IOException {
    Qcow2Layout layout = Qcow2Layout.of(size, allocation);
    Path file = Files.createTempFile(dir, "layout", ".qcow2");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      for (long c = 0; c < layout.metadataBytes() / CLUSTER; c++) {
        ch.write(layout.metadataCluster(c), c * CLUSTER);
      }
      for (Run r : runs) {
        // a run may cross from one allocated cluster into the next: consecutive in the file
        ch.write(ByteBuffer.wrap(r.bytes()), layout.fileOffset(r.offset()));
      }
    }
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(layout.fileSize());
    }
    return file;
  }

  private Path raw(long size, List<Run> runs) throws IOException {
    Path file = Files.createTempFile(dir, "content", ".raw");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      for (Run r : runs) {
        ch.write(ByteBuffer.wrap(r.bytes()), r.offset());
      }
    }
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(size);  // the rest is a hole
    }
    return file;
  }

  private static void assertQemuAgrees(Path qcow2, Path raw) {
    String check = QemuImgTool.run("check", "-f", "qcow2", qcow2.toString());
    assertTrue(check.contains("No errors were found"), check);
    String compare = QemuImgTool.run("compare", "-f", "raw", "-F", "qcow2", raw.toString(),
        qcow2.toString());
    assertTrue(compare.contains("Images are identical"), compare);
  }

  /**
   * Reads the qcow2 with the streaming reader and compares every extent with the raw file:
   * data byte for byte, zero extents only where the raw file has holes.
   */
  private static void assertStreamsBack(Path qcow2, Path raw, long size) throws IOException {
    for (int chunk : new int[] {4 << 20, 3000}) {
      assertEquals(size, readAll(qcow2, chunk, raw), "content read back in extents of at most "
          + chunk);
    }
  }

  private static void readAll(Path qcow2, int chunk) throws IOException {
    readAll(qcow2, chunk, null);
  }

  /** Reads every extent; compares with {@code raw} when given; returns the bytes covered. */
  private static long readAll(Path qcow2, int chunk, Path raw) throws IOException {
    try (InputStream in = Files.newInputStream(qcow2);
        Qcow2ExtentSource source = new Qcow2ExtentSource("test", in);
        FileChannel want = raw == null ? null : FileChannel.open(raw)) {
      long size = source.virtualSize();
      long pos = 0;
      Extent e;
      while ((e = source.next(chunk)) != null) {
        assertEquals(pos, e.offset(), "extents in order without gaps");
        if (want != null) {
          if (e instanceof Extent.Data d) {
            assertTrue(e.length() <= chunk, "data within the chunk");
            ByteBuffer expected = ByteBuffer.allocate((int) e.length());
            want.read(expected, e.offset());
            assertEquals(expected.flip(), d.data(), "data at " + e.offset());
          } else {
            List<SparseFiles.Range> data = SparseFiles.dataRanges(raw, size);
            long from = e.offset();
            long to = e.offset() + e.length();
            assertTrue(data.stream().noneMatch(r -> r.offset() < to && from < r.offset() + r.length()),
                "a zero extent [" + from + ", " + to + ") only where the raw file has holes");
          }
        }
        pos += e.length();
      }
      assertEquals(size, pos);
      return pos;
    }
  }
}
