package io.stratus.agent.disk;

import java.io.IOException;
import java.nio.ByteBuffer;

/** A point-in-time disk's content as pieces in guest order, covering it whole. */
public interface DiskReader extends AutoCloseable {
  /** One piece: data with its bytes, or a zero range ({@code data} null). */
  record Piece(DiskExtent extent, ByteBuffer data) {}

  /** The next piece, or {@code null} at the end. */
  Piece next() throws IOException;

  @Override
  void close();
}
