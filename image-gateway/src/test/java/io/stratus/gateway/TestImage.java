package io.stratus.gateway;

import com.google.protobuf.ByteString;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadTrailer;
import io.stratus.proto.image.v1.ZeroExtent;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;

/**
 * Content for upload tests: data runs at offsets, everything else a hole, with the md5,
 * sha512 and chunked content digest of the whole guest-visible content computed here
 * naively (every byte, zeros included), independently of the gateway's code.
 */
final class TestImage {
  record Run(long offset, byte[] bytes) {}

  final long virtualSize;
  final List<Run> runs = new ArrayList<>();

  TestImage(long virtualSize) {
    this.virtualSize = virtualSize;
  }

  /** Random bytes at {@code offset}. */
  TestImage data(long offset, int length, long seed) {
    byte[] b = new byte[length];
    new Random(seed).nextBytes(b);
    runs.add(new Run(offset, b));
    return this;
  }

  /** Half data, half holes, alternating in blocks of {@code block} bytes. */
  static TestImage halfSparse(long virtualSize, int block, long seed) {
    TestImage t = new TestImage(virtualSize);
    for (long off = 0; off + block <= virtualSize; off += 2L * block) {
      t.data(off, block, seed + off);
    }
    return t;
  }

  long dataBytes() {
    return runs.stream().mapToLong(r -> r.bytes().length).sum();
  }

  String md5() {
    return digest("MD5");
  }

  String sha512() {
    return digest("SHA-512");
  }

  /** {@code sha256-4m:HEX}: SHA-256 over the SHA-256 of every 4 MiB chunk, computed naively. */
  String contentDigest() {
    try {
      int chunk = 4 << 20;
      MessageDigest outer = MessageDigest.getInstance("SHA-256");
      for (long start = 0; start < virtualSize; start += chunk) {
        byte[] bytes = new byte[(int) Math.min(chunk, virtualSize - start)];
        for (Run r : runs) {
          long from = Math.max(start, r.offset());
          long to = Math.min(start + bytes.length, r.offset() + r.bytes().length);
          if (from < to) {
            System.arraycopy(r.bytes(), (int) (from - r.offset()), bytes, (int) (from - start),
                (int) (to - from));
          }
        }
        outer.update(MessageDigest.getInstance("SHA-256").digest(bytes));
      }
      return "sha256-4m:" + HexFormat.of().formatHex(outer.digest());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private String digest(String algo) {
    try {
      MessageDigest d = MessageDigest.getInstance(algo);
      byte[] zeros = new byte[1 << 16];
      long pos = 0;
      for (Run r : runs) {
        pos = feedZeros(d, zeros, pos, r.offset());
        d.update(r.bytes());
        pos += r.bytes().length;
      }
      feedZeros(d, zeros, pos, virtualSize);
      return HexFormat.of().formatHex(d.digest());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static long feedZeros(MessageDigest d, byte[] zeros, long from, long to) {
    long left = to - from;
    while (left > 0) {
      int n = (int) Math.min(left, zeros.length);
      d.update(zeros, 0, n);
      left -= n;
    }
    return to;
  }

  /**
   * The upload messages: header, data extents of at most {@code chunk} bytes with a zero
   * extent for every hole, and a trailer with the right digests when {@code trailer}.
   */
  List<UploadImageRequest> messages(String imageId, String uploadId, int chunk, boolean trailer) {
    List<UploadImageRequest> out = new ArrayList<>();
    out.add(UploadImageRequest.newBuilder().setHeader(UploadHeader.newBuilder()
        .setImageId(imageId).setUploadId(uploadId).setVirtualSize(virtualSize)
        .setDiskFormat("raw")).build());
    long pos = 0;
    for (Run r : runs) {
      if (r.offset() > pos) {
        out.add(zero(pos, r.offset() - pos));
      }
      for (int i = 0; i < r.bytes().length; i += chunk) {
        int n = Math.min(chunk, r.bytes().length - i);
        out.add(data(r.offset() + i, ByteString.copyFrom(r.bytes(), i, n)));
      }
      pos = r.offset() + r.bytes().length;
    }
    if (trailer) {
      out.add(trailerFor(out));
    }
    return out;
  }

  /** Writes the content as a sparse raw file (holes where there is no run). */
  void writeSparse(java.nio.file.Path file) throws java.io.IOException {
    try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
      for (Run r : runs) {
        ch.write(ByteBuffer.wrap(r.bytes()), r.offset());
      }
    }
    try (var f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(virtualSize);
    }
  }

  /** Where the data runs lie, as an upload header announces it. */
  io.stratus.proto.image.v1.Allocation allocation() {
    var b = io.stratus.proto.image.v1.Allocation.newBuilder();
    runs.forEach(r -> b.addRanges(r.offset()).addRanges(r.bytes().length));
    return b.build();
  }

  /** {@code messages} with {@code allocation} in the header. */
  static List<UploadImageRequest> announcing(List<UploadImageRequest> messages,
      io.stratus.proto.image.v1.Allocation allocation) {
    List<UploadImageRequest> out = new ArrayList<>(messages);
    out.set(0, UploadImageRequest.newBuilder().setHeader(messages.get(0).getHeader().toBuilder()
        .setAllocation(allocation)).build());
    return out;
  }

  /** A data extent with its crc32c. */
  static UploadImageRequest data(long offset, ByteString bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes.asReadOnlyByteBuffer());
    return UploadImageRequest.newBuilder().setData(DataExtent.newBuilder().setOffset(offset)
        .setData(bytes).setCrc32C((int) crc.getValue())).build();
  }

  /** {@code messages} with their trailer (if any) replaced by one that matches them. */
  /**
   * What a client resuming upload {@code all} (header first) from {@code offset} sends: a
   * header with that resume offset, the data at or after it and the zeros, a new trailer.
   */
  static List<UploadImageRequest> resumedFrom(List<UploadImageRequest> all, long offset) {
    List<UploadImageRequest> rest = new ArrayList<>();
    rest.add(UploadImageRequest.newBuilder()
        .setHeader(all.get(0).getHeader().toBuilder().setResumeOffset(offset)).build());
    for (UploadImageRequest m : all.subList(1, all.size())) {
      if (!m.hasData() || m.getData().getOffset() >= offset) {
        rest.add(m);
      }
    }
    return retrailed(rest);
  }

  static List<UploadImageRequest> retrailed(List<UploadImageRequest> messages) {
    List<UploadImageRequest> out = new ArrayList<>(messages.stream().filter(m -> !m.hasTrailer()).toList());
    out.add(trailerFor(out));
    return out;
  }

  /** The trailer that matches the data extents among {@code sent}, computed independently. */
  static UploadImageRequest trailerFor(List<UploadImageRequest> sent) {
    CRC32C chain = new CRC32C();
    long bytes = 0;
    for (UploadImageRequest m : sent) {
      if (m.hasData()) {
        ByteBuffer rec = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
        rec.putLong(m.getData().getOffset()).putLong(m.getData().getData().size())
            .putInt(m.getData().getCrc32C()).flip();
        chain.update(rec);
        bytes += m.getData().getData().size();
      }
    }
    return UploadImageRequest.newBuilder().setTrailer(UploadTrailer.newBuilder()
        .setExtentsCrc32C((int) chain.getValue()).setDataBytes(bytes)).build();
  }

  static UploadImageRequest zero(long offset, long length) {
    return UploadImageRequest.newBuilder().setZero(ZeroExtent.newBuilder()
        .setOffset(offset).setLength(length)).build();
  }
}
