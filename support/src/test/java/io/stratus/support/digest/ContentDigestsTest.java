package io.stratus.support.digest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The concurrent digests equal plain sequential md5/sha512 of the same content. */
class ContentDigestsTest {

  @Test
  void dataAndHolesHashLikeTheFullRawContent() throws Exception {
    Random r = new Random(5);
    MessageDigest md5 = MessageDigest.getInstance("MD5");
    MessageDigest sha = MessageDigest.getInstance("SHA-512");
    try (ContentDigests d = new ContentDigests()) {
      for (int i = 0; i < 50; i++) {
        byte[] data = new byte[1 + r.nextInt(3 << 20)];
        r.nextBytes(data);
        d.data(ByteBuffer.wrap(data));
        md5.update(data);
        sha.update(data);
        int hole = r.nextInt(5 << 20);
        d.zeros(hole);
        byte[] zeros = new byte[hole];
        md5.update(zeros);
        sha.update(zeros);
      }
      assertEquals(HexFormat.of().formatHex(md5.digest()), d.md5Hex());
      assertEquals(HexFormat.of().formatHex(sha.digest()), d.sha512Hex());
    }
  }

  @Test
  void emptyContentHasTheEmptyDigests() {
    try (ContentDigests d = new ContentDigests()) {
      assertEquals("d41d8cd98f00b204e9800998ecf8427e", d.md5Hex());
      assertEquals("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
          d.sha512Hex());
    }
  }
}
