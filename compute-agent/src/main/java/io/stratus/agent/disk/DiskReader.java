package io.stratus.agent.disk;

import java.io.IOException;
import java.nio.ByteBuffer;

/** A point-in-time disk's content as pieces in guest order, covering it whole. */
public interface DiskReader extends AutoCloseable {
  /**
   * One piece: data with its bytes, or a zero range ({@code data} null). A reader that
   * {@link #suppliesChunkDigests supplies chunk digests} sets {@code chunkDigest} on the
   * last piece of every 4 MiB chunk that holds data: the SHA-256 of the whole chunk
   * ({@link io.stratus.support.digest.ChunkDigest}). {@code release}, when set, must run
   * once the caller is done with the bytes of this piece and of the pieces before it in
   * the same chunk (their buffer goes back to the reader's pool).
   */
  record Piece(DiskExtent extent, ByteBuffer data, byte[] chunkDigest, Runnable release) {
    public Piece(DiskExtent extent, ByteBuffer data) {
      this(extent, data, null, null);
    }
  }

  /** The next piece, or {@code null} at the end. */
  Piece next() throws IOException;

  /** Whether every chunk with data comes with its digest (see {@link Piece}). */
  default boolean suppliesChunkDigests() {
    return false;
  }

  @Override
  void close();
}
