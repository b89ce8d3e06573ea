package io.stratus.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.stratus.cli.fake.FakeCloud;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.Image;
import io.stratus.proto.image.v1.ImageStatus;
import io.stratus.proto.image.v1.ZeroExtent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageDownloadTest {
  private static final int MIB = 1 << 20;
  private static final int SIZE = 8 * MIB;

  @TempDir
  Path dir;

  private FakeCloud cloud;
  private byte[] content;

  /**
   * An 8 MiB image, half holes: data [0, 2 MiB), zeros [2, 6 MiB), data [6, 7 MiB), then a
   * trailing zero extent [7, 8 MiB) that only setLength can produce.
   */
  @BeforeEach
  void setUp() throws Exception {
    cloud = new FakeCloud();
    content = new byte[SIZE];
    Random random = new Random(42);
    List<DownloadImageResponse> extents = new ArrayList<>();
    for (int offset : new int[] {0, MIB, 6 * MIB}) {
      byte[] chunk = new byte[MIB];
      random.nextBytes(chunk);
      System.arraycopy(chunk, 0, content, offset, MIB);
      java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
      crc.update(chunk);
      extents.add(DownloadImageResponse.newBuilder().setData(DataExtent.newBuilder()
          .setOffset(offset).setData(ByteString.copyFrom(chunk)).setCrc32C((int) crc.getValue()))
          .build());
      if (offset == MIB) {
        extents.add(zero(2 * MIB, 4 * MIB));
      }
    }
    extents.add(zero(7 * MIB, MIB));
    // The content digest, naively: SHA-256 over the SHA-256 of each 4 MiB chunk.
    MessageDigest outer = MessageDigest.getInstance("SHA-256");
    for (int at = 0; at < SIZE; at += 4 * MIB) {
      outer.update(MessageDigest.getInstance("SHA-256").digest(
          java.util.Arrays.copyOfRange(content, at, Math.min(SIZE, at + 4 * MIB))));
    }
    cloud.images.images.put("img-d", Image.newBuilder()
        .setId("img-d").setName("img-d").setStatus(ImageStatus.IMAGE_STATUS_ACTIVE).setVirtualSize(SIZE)
        .setContentDigest("sha256-4m:" + HexFormat.of().formatHex(outer.digest())).build());
    cloud.images.extents.put("img-d", extents);
  }

  @AfterEach
  void tearDown() throws Exception {
    cloud.close();
  }

  @Test
  void writesASparseFileWithTheImagesContentDigest() throws Exception {
    Path file = dir.resolve("disk.raw");

    FakeCloud.Result r = cloud.run("image", "download", "img-d", "--file", file.toString());

    assertEquals(0, r.code(), r.err());
    assertArrayEquals(content, Files.readAllBytes(file));
    long allocated = allocatedBytes(file);
    assertTrue(allocated < SIZE, "holes stay holes: " + allocated + " bytes allocated of " + SIZE);
    assertTrue(r.out().contains("(verified)"), r.out());
    assertTrue(r.err().lines().anyMatch(l -> l.startsWith("download  [")
        && l.contains("100%  8.0 MiB / 8.0 MiB")), r.err());
    assertFalse(Files.exists(dir.resolve("disk.raw.part")));
    assertTrue(cloud.authorizations.isEmpty(), "the gateway needs no conductor call");
  }

  @Test
  void aWrongContentDigestFailsAndKeepsNoFile() throws Exception {
    Image image = cloud.images.images.get("img-d");
    cloud.images.images.put("img-d", image.toBuilder().setContentDigest("sha256-4m:" + "00".repeat(32))
        .build());
    Path file = dir.resolve("disk.raw");

    FakeCloud.Result r = cloud.run("image", "download", "img-d", "--file", file.toString());

    assertEquals(1, r.code());
    String last = r.err().lines().reduce((a, b) -> b).orElseThrow();
    assertTrue(last.startsWith("error: image img-d: content digest sha256-4m:"), r.err());
    assertTrue(last.endsWith("differs from the record's sha256-4m:" + "00".repeat(32)
        + " (nothing was kept)"), r.err());
    assertFalse(Files.exists(file));
    assertFalse(Files.exists(dir.resolve("disk.raw.part")));
  }

  @Test
  void anExtentThatFailsItsCrcFailsAndKeepsNoFile() throws Exception {
    List<DownloadImageResponse> extents = new ArrayList<>(cloud.images.extents.get("img-d"));
    DataExtent first = extents.get(0).getData();
    byte[] flipped = first.getData().toByteArray();
    flipped[7] ^= 1;
    extents.set(0, DownloadImageResponse.newBuilder().setData(first.toBuilder()
        .setData(ByteString.copyFrom(flipped))).build());
    cloud.images.extents.put("img-d", extents);
    Path file = dir.resolve("disk.raw");

    FakeCloud.Result r = cloud.run("image", "download", "img-d", "--file", file.toString());

    assertEquals(1, r.code());
    assertTrue(r.err().contains("DATA_LOSS: image img-d: extent at 0 failed its crc32c"), r.err());
    assertFalse(Files.exists(file));
    assertFalse(Files.exists(dir.resolve("disk.raw.part")));
  }

  private static ZeroExtent.Builder zeroExtent(long offset, long length) {
    return ZeroExtent.newBuilder().setOffset(offset).setLength(length);
  }

  private static DownloadImageResponse zero(long offset, long length) {
    return DownloadImageResponse.newBuilder().setZero(zeroExtent(offset, length)).build();
  }

  /** {@code stat -c '%b %B'}: allocated blocks times the block unit. */
  private static long allocatedBytes(Path file) throws Exception {
    Process stat = new ProcessBuilder("stat", "-c", "%b %B", file.toString())
        .redirectErrorStream(true).start();
    String[] out = new String(stat.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
        .trim().split(" ");
    assertEquals(0, stat.waitFor(), String.join(" ", out));
    return Long.parseLong(out[0]) * Long.parseLong(out[1]);
  }
}
