package io.stratus.gateway;

import com.google.protobuf.ByteString;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadTrailer;
import io.stratus.proto.image.v1.ZeroExtent;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/**
 * Content for upload tests: data runs at offsets, everything else a hole, with the md5 and
 * sha512 of the whole guest-visible content computed independently of the gateway.
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
        out.add(UploadImageRequest.newBuilder().setData(DataExtent.newBuilder()
            .setOffset(r.offset() + i).setData(ByteString.copyFrom(r.bytes(), i, n))).build());
      }
      pos = r.offset() + r.bytes().length;
    }
    if (trailer) {
      out.add(UploadImageRequest.newBuilder().setTrailer(UploadTrailer.newBuilder()
          .setMd5(md5()).setSha512(sha512())).build());
    }
    return out;
  }

  static UploadImageRequest zero(long offset, long length) {
    return UploadImageRequest.newBuilder().setZero(ZeroExtent.newBuilder()
        .setOffset(offset).setLength(length)).build();
  }
}
