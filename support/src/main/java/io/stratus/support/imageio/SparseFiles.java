package io.stratus.support.imageio;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a file's data is, from the file system itself ({@code lseek} with {@code SEEK_DATA}
 * and {@code SEEK_HOLE}, as {@code cp} and {@code qemu-img} ask): the holes of a sparse
 * file are never read. A file system without hole reporting answers one range covering
 * the whole file, which is still correct.
 */
public final class SparseFiles {
  private static final int O_RDONLY = 0;
  private static final int SEEK_DATA = 3;
  private static final int SEEK_HOLE = 4;
  private static final int ENXIO = 6;

  /** One range of data: {@code [offset, offset + length)}. */
  public record Range(long offset, long length) {}

  private interface LibC extends Library {
    int open(String path, int flags) throws LastErrorException;

    long lseek(int fd, long offset, int whence) throws LastErrorException;

    int close(int fd) throws LastErrorException;
  }

  private static final class Holder {
    static final LibC C = Native.load("c", LibC.class);
  }

  private SparseFiles() {}

  /** The data ranges of {@code file} (size {@code size}), in order. */
  public static List<Range> dataRanges(Path file, long size) throws IOException {
    List<Range> out = new ArrayList<>();
    int fd;
    try {
      fd = Holder.C.open(file.toString(), O_RDONLY);
    } catch (LastErrorException e) {
      throw new IOException("cannot open " + file + ": errno " + e.getErrorCode(), e);
    }
    try {
      long at = 0;
      while (at < size) {
        long data;
        try {
          data = Holder.C.lseek(fd, at, SEEK_DATA);
        } catch (LastErrorException e) {
          if (e.getErrorCode() == ENXIO) {
            break;  // only a hole from here to the end
          }
          throw new IOException("lseek(SEEK_DATA) on " + file + ": errno " + e.getErrorCode(), e);
        }
        long hole = Holder.C.lseek(fd, data, SEEK_HOLE);
        long end = Math.min(hole, size);
        if (end > data) {
          out.add(new Range(data, end - data));
        }
        at = hole;
      }
      return out;
    } catch (LastErrorException e) {
      throw new IOException("lseek(SEEK_HOLE) on " + file + ": errno " + e.getErrorCode(), e);
    } finally {
      try {
        Holder.C.close(fd);
      } catch (LastErrorException ignored) {
        // read-only descriptor
      }
    }
  }
}
