package io.stratus.gateway.upload;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * md5 and sha512 of an image's guest-visible content, fed in offset order; holes are fed
 * as zeros so the digests equal those of the full raw image (what Glance reports).
 */
final class ContentDigests {
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

  private final MessageDigest md5;
  private final MessageDigest sha512;

  ContentDigests() {
    try {
      md5 = MessageDigest.getInstance("MD5");
      sha512 = MessageDigest.getInstance("SHA-512");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK lacks MD5 or SHA-512", e);
    }
  }

  void data(ByteBuffer bytes) {
    md5.update(bytes.duplicate());
    sha512.update(bytes.duplicate());
  }

  void zeros(long length) {
    long left = length;
    while (left > 0) {
      int n = (int) Math.min(left, ZEROS.capacity());
      ByteBuffer chunk = ZEROS.duplicate().limit(n);
      md5.update(chunk.duplicate());
      sha512.update(chunk);
      left -= n;
    }
  }

  String md5Hex() {
    return HexFormat.of().formatHex(md5.digest());
  }

  String sha512Hex() {
    return HexFormat.of().formatHex(sha512.digest());
  }
}
