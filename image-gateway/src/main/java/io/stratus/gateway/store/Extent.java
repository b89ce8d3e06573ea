package io.stratus.gateway.store;

import java.nio.ByteBuffer;

/** A run of guest-visible content: bytes at an offset, or a range that reads as zeros. */
public sealed interface Extent {
  long offset();

  long length();

  /** Bytes at {@code offset}; {@code data} is positioned at its first byte. */
  record Data(long offset, ByteBuffer data) implements Extent {
    @Override
    public long length() {
      return data.remaining();
    }
  }

  /** {@code length} bytes of zeros at {@code offset}: a hole, never sent as bytes. */
  record Zero(long offset, long length) implements Extent {}
}
