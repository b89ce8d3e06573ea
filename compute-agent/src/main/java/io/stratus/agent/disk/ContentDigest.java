package io.stratus.agent.disk;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** md5 + sha512 of guest-visible content fed in order; zero ranges count as zeros. */
public final class ContentDigest {
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

  private final MessageDigest md5;
  private final MessageDigest sha512;

  public ContentDigest() {
    try {
      md5 = MessageDigest.getInstance("MD5");
      sha512 = MessageDigest.getInstance("SHA-512");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public void data(ByteBuffer b) {
    md5.update(b.duplicate());
    sha512.update(b.duplicate());
  }

  public void zeros(long length) {
    for (long left = length; left > 0; ) {
      int n = (int) Math.min(left, ZEROS.capacity());
      md5.update(ZEROS.duplicate().limit(n));
      sha512.update(ZEROS.duplicate().limit(n));
      left -= n;
    }
  }

  public String md5Hex() {
    return HexFormat.of().formatHex(md5.digest());
  }

  public String sha512Hex() {
    return HexFormat.of().formatHex(sha512.digest());
  }
}
