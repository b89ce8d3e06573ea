package io.stratus.ceph;

import java.io.IOException;
import java.util.Map;

/**
 * A librados/librbd call returned {@code -errno}. The message names the call, what it was
 * about and the error the way Ceph's tools print it, e.g. {@code rbd_open(images/ID):
 * (2) No such file or directory}.
 */
public final class RbdException extends IOException {
  private static final long serialVersionUID = 1L;

  public static final int ENOENT = 2;
  public static final int EBUSY = 16;
  public static final int EEXIST = 17;
  public static final int ERANGE = 34;

  private static final Map<Integer, String> TEXT = Map.ofEntries(
      Map.entry(1, "Operation not permitted"),
      Map.entry(ENOENT, "No such file or directory"),
      Map.entry(5, "Input/output error"),
      Map.entry(11, "Resource temporarily unavailable"),
      Map.entry(12, "Cannot allocate memory"),
      Map.entry(13, "Permission denied"),
      Map.entry(EBUSY, "Device or resource busy"),
      Map.entry(EEXIST, "File exists"),
      Map.entry(18, "Invalid cross-device link"),
      Map.entry(22, "Invalid argument"),
      Map.entry(27, "File too large"),
      Map.entry(28, "No space left on device"),
      Map.entry(30, "Read-only file system"),
      Map.entry(ERANGE, "Numerical result out of range"),
      Map.entry(38, "Function not implemented"),
      Map.entry(39, "Directory not empty"),
      Map.entry(95, "Operation not supported"),
      Map.entry(107, "Transport endpoint is not connected"),
      Map.entry(108, "Cannot send after transport endpoint shutdown"),
      Map.entry(110, "Connection timed out"),
      Map.entry(122, "Disk quota exceeded"),
      Map.entry(125, "Operation canceled"));

  private final int errno;

  RbdException(String call, String subject, int errno) {
    super(call + "(" + subject + "): (" + errno + ") " + strerror(errno));
    this.errno = errno;
  }

  /** The positive error number, e.g. 2 for ENOENT. */
  public int errno() {
    return errno;
  }

  /** True when the object, image, snapshot or pool named in the call does not exist. */
  public boolean notFound() {
    return errno == ENOENT;
  }

  public static String strerror(int errno) {
    return TEXT.getOrDefault(errno, "Unknown error " + errno);
  }

  /** Returns {@code result} when it is not negative, else throws for {@code -result}. */
  public static long check(long result, String call, String subject) throws RbdException {
    if (result < 0) {
      throw new RbdException(call, subject, (int) -result);
    }
    return result;
  }
}
