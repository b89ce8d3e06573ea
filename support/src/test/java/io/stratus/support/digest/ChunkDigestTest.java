package io.stratus.support.digest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The chunked content digest against a naive reference that materialises every chunk, zeros
 * included: any way of feeding the same content (holes, zeros sent as data, extents that
 * straddle chunks, a short last chunk) gives the reference's value.
 */
class ChunkDigestTest {
  private static final int CHUNK = ChunkDigest.CHUNK;

  private static String reference(byte[] content) throws Exception {
    MessageDigest outer = MessageDigest.getInstance("SHA-256");
    for (int at = 0; at < content.length; at += CHUNK) {
      outer.update(MessageDigest.getInstance("SHA-256").digest(
          Arrays.copyOfRange(content, at, Math.min(content.length, at + CHUNK))));
    }
    return "sha256-4m:" + HexFormat.of().formatHex(outer.digest());
  }

  /** Feeds the non-zero runs of {@code content} as extents cut at random lengths. */
  private static String fedSparsely(byte[] content, long seed, boolean pipelined) {
    SplittableRandom r = new SplittableRandom(seed);
    ChunkDigest plain = new ChunkDigest();
    try (PipelinedChunkDigest piped = new PipelinedChunkDigest()) {
      int at = 0;
      while (at < content.length) {
        int n = Math.min(content.length - at, 1 + r.nextInt(3 * CHUNK / 2));
        boolean allZero = true;
        for (int i = at; i < at + n && allZero; i++) {
          allZero = content[i] == 0;
        }
        if (!allZero || r.nextInt(4) == 0) {  // zeros are sometimes sent as data
          ByteBuffer b = ByteBuffer.wrap(content, at, n).slice();
          if (pipelined) {
            piped.data(at, b);
          } else {
            plain.data(at, b);
          }
        }
        at += n;
      }
      return pipelined ? piped.finish(content.length) : plain.finish(content.length);
    }
  }

  private static byte[] content(int size, long seed, int... dataAt) {
    byte[] b = new byte[size];
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < dataAt.length; i += 2) {
      for (int j = dataAt[i]; j < dataAt[i] + dataAt[i + 1]; j++) {
        b[j] = (byte) (1 + r.nextInt(255));
      }
    }
    return b;
  }

  @Test
  void matchesTheNaiveDigestHoweverTheContentIsFed() throws Exception {
    byte[][] contents = {
        new byte[0],
        new byte[CHUNK],
        new byte[3 * CHUNK + 12345],
        content(5 * CHUNK + 777, 1, 0, 10, CHUNK - 5, 10, 3 * CHUNK + 1, CHUNK, 5 * CHUNK, 700),
        content(2 * CHUNK, 2, 0, 2 * CHUNK),
        content(9 * CHUNK - 1, 3, 4 * CHUNK + 100, 3 * CHUNK),
    };
    for (byte[] c : contents) {
      String expected = reference(c);
      for (long seed = 0; seed < 4; seed++) {
        assertEquals(expected, fedSparsely(c, seed, false), "size " + c.length + " seed " + seed);
        assertEquals(expected, fedSparsely(c, seed, true), "pipelined, size " + c.length);
      }
    }
  }

  @Test
  void chunkDigestsComputedElsewhereGiveTheSameValue() throws Exception {
    byte[] c = content(5 * CHUNK + 777, 9, 10, 20, 2 * CHUNK + 5, 100, 5 * CHUNK, 700);
    ChunkDigest d = new ChunkDigest();
    for (int start = 0; start < c.length; start += CHUNK) {
      int len = Math.min(CHUNK, c.length - start);
      boolean data = false;
      for (int i = start; i < start + len && !data; i++) {
        data = c[i] != 0;
      }
      if (data) {  // chunks without data are left out: holes
        d.chunk(start, len, ChunkDigest.digestOf(ByteBuffer.wrap(c, start, len)));
      }
    }
    assertEquals(reference(c), d.finish(c.length));
    ChunkDigest bad = new ChunkDigest();
    assertThrows(IllegalArgumentException.class, () -> bad.chunk(5, CHUNK, new byte[32]));
  }

  @Test
  void aHugeHoleCostsOneUpdatePerChunk() {
    // 1 TiB of holes with 4 KiB of data at its end: hashed in well under a second.
    long size = 1L << 40;
    long start = System.nanoTime();
    ChunkDigest d = new ChunkDigest();
    d.data(size - 4096, ByteBuffer.wrap(new byte[] {1}));
    String withData = d.finish(size);
    assertTrue(System.nanoTime() - start < 5_000_000_000L, "holes must not be hashed byte by byte");
    ChunkDigest empty = new ChunkDigest();
    assertNotEquals(withData, empty.finish(size), "one byte changes the digest");
  }

  @Test
  void offsetsMustNotGoBack() {
    ChunkDigest d = new ChunkDigest();
    d.data(100, ByteBuffer.wrap(new byte[10]));
    assertThrows(IllegalArgumentException.class, () -> d.data(105, ByteBuffer.wrap(new byte[1])));
    assertThrows(IllegalArgumentException.class, () -> d.finish(50));
  }

  @Test
  void extentChecksumsChainCatchesAMovedExtent() {
    ExtentChecksums a = new ExtentChecksums();
    ExtentChecksums b = new ExtentChecksums();
    int crc = ExtentChecksums.crc32c(ByteBuffer.wrap(new byte[] {1, 2, 3}));
    a.add(0, 3, crc);
    b.add(4096, 3, crc);
    assertNotEquals(a.chain(), b.chain());
    assertEquals(3, a.dataBytes());
  }
}
