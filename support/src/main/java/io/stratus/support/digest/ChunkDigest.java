package io.stratus.support.digest;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * An image's content digest whose cost follows the allocated bytes, not the virtual size
 * (Proxmox Backup Server's fixed chunk index): the guest-visible content is cut into
 * {@value #CHUNK}-byte chunks at fixed offsets; each chunk's digest is the SHA-256 of its
 * bytes, and the content digest is the SHA-256 of the chunk digests in order, written as
 * {@code sha256-4m:HEX}. A chunk that is all hole has a known digest ({@link #zeroChunk}),
 * so holes cost one 32-byte update per 4 MiB. Bytes of a chunk that holds data are hashed,
 * together with the zeros of its gaps (at most one chunk's worth of zeros per data chunk).
 *
 * <p>The digest depends only on the content: zeros sent as data and zeros left as a hole
 * give the same result, so any uploader or store produces the same value. Fed in offset
 * order by one thread; not thread-safe. See {@link PipelinedChunkDigest} for hashing off
 * the caller's thread.
 */
public final class ChunkDigest {
  /** Chunk size: 4 MiB. */
  public static final int CHUNK = 4 << 20;
  /** The algorithm's name, the prefix of every value. */
  public static final String ALGORITHM = "sha256-4m";

  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(CHUNK).asReadOnlyBuffer();
  private static final byte[] ZERO_CHUNK = sha256().digest(new byte[CHUNK]);

  private final MessageDigest outer = sha256();
  private final MessageDigest chunk = sha256();
  /** Guest offset up to which content has been accounted for. */
  private long position;
  /**
   * Whether {@link #chunk} has been fed the open chunk's bytes up to {@code position}; if
   * not, those bytes are zeros not hashed yet (hashed only if data arrives in the chunk).
   */
  private boolean open;
  /** The content's short last chunk came through {@link #chunk}: it is accounted for. */
  private boolean shortChunkAdded;
  private String result;

  /** The digest of a full chunk of zeros. */
  public static byte[] zeroChunk() {
    return ZERO_CHUNK.clone();
  }

  /** Feeds {@code data} (position to limit) at guest {@code offset}; gaps before it are zeros. */
  public void data(long offset, ByteBuffer data) {
    if (result != null) {
      throw new IllegalStateException("the digest is finished");
    }
    if (offset < position || shortChunkAdded) {
      throw new IllegalArgumentException("data at " + offset + " goes back before " + position);
    }
    skipTo(offset);
    ByteBuffer rest = data.duplicate();
    while (rest.hasRemaining()) {
      if (!open) {
        zeros((int) (position % CHUNK));
        open = true;
      }
      int n = (int) Math.min(CHUNK - position % CHUNK, rest.remaining());
      chunk.update(rest.duplicate().limit(rest.position() + n));
      rest.position(rest.position() + n);
      position += n;
      if (position % CHUNK == 0) {
        closeChunk();
      }
    }
  }

  /**
   * Adds the digest of a whole chunk that holds data, computed elsewhere (for instance by
   * the threads that read it): {@code chunkStart} is a multiple of {@link #CHUNK}, not
   * before what was fed already; {@code chunkLength} is {@link #CHUNK} except for the last,
   * short chunk of the content. Chunks skipped over are holes. Not to be mixed with {@link
   * #data} in the same chunk.
   */
  public void chunk(long chunkStart, int chunkLength, byte[] digest) {
    if (result != null) {
      throw new IllegalStateException("the digest is finished");
    }
    if (chunkStart % CHUNK != 0 || chunkStart < position || open || digest.length != 32
        || chunkLength <= 0 || chunkLength > CHUNK) {
      throw new IllegalArgumentException("chunk at " + chunkStart + " of " + chunkLength
          + " bytes does not follow " + position);
    }
    skipTo(chunkStart);
    outer.update(digest);
    position = chunkStart + chunkLength;
    shortChunkAdded = chunkLength < CHUNK;
  }

  /** The SHA-256 of {@code chunk} (position to limit): one chunk's digest. */
  public static byte[] digestOf(ByteBuffer chunk) {
    MessageDigest d = sha256();
    d.update(chunk.duplicate());
    return d.digest();
  }

  /**
   * Ends the content at {@code size} (everything after the last data reads as zeros) and
   * returns the digest, {@code sha256-4m:HEX}. Idempotent.
   */
  public String finish(long size) {
    if (result != null) {
      return result;
    }
    if (size < position) {
      throw new IllegalArgumentException("size " + size + " is before data already fed up to " + position);
    }
    skipTo(size);
    if (shortChunkAdded && size != position) {
      throw new IllegalArgumentException("size " + size + " does not end the short chunk at " + position);
    }
    if (position % CHUNK != 0 && !shortChunkAdded) {
      // A short last chunk is hashed for real: its digest is not the full-chunk constant.
      if (!open) {
        zeros((int) (position % CHUNK));
      }
      outer.update(chunk.digest());
    }
    result = ALGORITHM + ":" + HexFormat.of().formatHex(outer.digest());
    return result;
  }

  /** Accounts for zeros from {@code position} up to {@code offset}. */
  private void skipTo(long offset) {
    while (position < offset) {
      if (!open && position % CHUNK == 0 && offset - position >= CHUNK) {
        for (long n = (offset - position) / CHUNK; n > 0; n--) {
          outer.update(ZERO_CHUNK);
          position += CHUNK;
        }
        continue;
      }
      long chunkEnd = position - position % CHUNK + CHUNK;
      long until = Math.min(chunkEnd, offset);
      if (open) {
        zeros((int) (until - position));
      }
      position = until;
      if (position == chunkEnd) {
        closeChunk();
      }
    }
  }

  private void zeros(int n) {
    if (n > 0) {
      chunk.update(ZEROS.duplicate().limit(n));
    }
  }

  /** Ends the chunk that {@code position} just reached the end of. */
  private void closeChunk() {
    outer.update(open ? chunk.digest() : ZERO_CHUNK);
    open = false;
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
