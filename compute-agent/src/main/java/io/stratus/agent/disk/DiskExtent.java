package io.stratus.agent.disk;

import java.nio.file.Path;

/**
 * A guest range of a disk and where its bytes are: in {@code file} at {@code hostOffset}
 * (data), or nowhere (reads as zeros).
 */
public record DiskExtent(long offset, long length, Path file, long hostOffset) {
  public boolean isData() {
    return file != null;
  }

  public static DiskExtent zero(long offset, long length) {
    return new DiskExtent(offset, length, null, -1);
  }
}
