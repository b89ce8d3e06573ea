package io.stratus.gateway.store;

import java.io.IOException;

/** Reads an active image's content as extents in offset order, covering it whole. */
public interface ExtentSource extends AutoCloseable {
  /**
   * The next extent, or {@code null} after the last. Data extents hold at most {@code
   * maxChunk} bytes; zero extents may be of any length.
   */
  Extent next(int maxChunk) throws IOException;

  @Override
  void close() throws IOException;
}
