package io.stratus.support.digest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The per-extent check of the upload and download streams: every data extent carries the
 * CRC32C of its bytes (tens of GB/s with the CPU's CRC32 instruction, so it costs nothing
 * beside the copy), and the trailer carries a CRC32C over the list of extents sent, so an
 * extent lost, repeated or moved is caught as surely as a flipped bit. Both sides keep one
 * of these and compare.
 */
public final class ExtentChecksums {
  private final CRC32C chain = new CRC32C();
  private final ByteBuffer record = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
  private long dataBytes;
  private long extents;

  /** CRC32C of {@code data} from its position to its limit (the buffer is not moved). */
  public static int crc32c(ByteBuffer data) {
    CRC32C c = new CRC32C();
    c.update(data.duplicate());
    return (int) c.getValue();
  }

  /** Adds one data extent, given its CRC32C, to the chain. */
  public void add(long offset, long length, int crc) {
    record.clear();
    record.putLong(offset).putLong(length).putInt(crc).flip();
    chain.update(record);
    dataBytes += length;
    extents++;
  }

  /** CRC32C over every extent added, as (offset, length, crc) records in order. */
  public int chain() {
    return (int) chain.getValue();
  }

  /** Bytes of data extents added. */
  public long dataBytes() {
    return dataBytes;
  }

  /** Data extents added. */
  public long extents() {
    return extents;
  }
}
