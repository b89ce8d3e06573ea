package io.stratus.support.imageio;

import java.util.Arrays;

/**
 * Where an image's data lies: byte ranges of the guest content in increasing,
 * non-overlapping order, at most {@value #MAX_RANGES} of them. An uploader that knows its
 * extents before the first byte sends this in the upload header, so a store without sparse
 * writes can lay the image out compactly up front (see {@code UploadHeader.allocation}).
 * A range may cover zeros; data outside every range is an error.
 */
public final class Allocation {
  /** Most ranges one header may carry (about 1 MiB of header at worst). */
  public static final int MAX_RANGES = 65_536;

  private final long[] starts;
  private final long[] ends;

  private Allocation(long[] starts, long[] ends) {
    this.starts = starts;
    this.ends = ends;
  }

  /** An allocation built from ranges added in increasing order. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The allocation a header carries, checked against {@code virtualSize}.
   *
   * @throws IllegalArgumentException naming what is wrong with the ranges
   */
  public static Allocation of(io.stratus.proto.image.v1.Allocation message, long virtualSize) {
    int n = message.getRangesCount();
    if (n % 2 != 0) {
      throw new IllegalArgumentException("must hold (offset, length) pairs; got " + n + " numbers");
    }
    if (n / 2 > MAX_RANGES) {
      throw new IllegalArgumentException("holds " + n / 2 + " ranges; at most " + MAX_RANGES
          + " (merge neighbours)");
    }
    long[] starts = new long[n / 2];
    long[] ends = new long[n / 2];
    long previousEnd = 0;
    for (int i = 0; i < n / 2; i++) {
      long offset = message.getRanges(2 * i);
      long length = message.getRanges(2 * i + 1);
      if (length <= 0) {
        throw new IllegalArgumentException("range " + i + " has length " + length
            + "; lengths must be positive");
      }
      if (offset < previousEnd || (i > 0 && offset == previousEnd)) {
        throw new IllegalArgumentException("range " + i + " at " + offset
            + " does not start after the end of the previous one (" + previousEnd + ")");
      }
      if (offset > virtualSize - length) {
        throw new IllegalArgumentException("range " + i + " [" + offset + ", +" + length
            + ") ends beyond the virtual size " + virtualSize);
      }
      starts[i] = offset;
      ends[i] = offset + length;
      previousEnd = ends[i];
    }
    return new Allocation(starts, ends);
  }

  /** This allocation as the header field. */
  public io.stratus.proto.image.v1.Allocation toMessage() {
    var b = io.stratus.proto.image.v1.Allocation.newBuilder();
    for (int i = 0; i < starts.length; i++) {
      b.addRanges(starts[i]).addRanges(ends[i] - starts[i]);
    }
    return b.build();
  }

  /** Number of ranges. */
  public int size() {
    return starts.length;
  }

  /** Start of range {@code i}. */
  public long start(int i) {
    return starts[i];
  }

  /** End (exclusive) of range {@code i}. */
  public long end(int i) {
    return ends[i];
  }

  /** Bytes covered by all ranges. */
  public long bytes() {
    long sum = 0;
    for (int i = 0; i < starts.length; i++) {
      sum += ends[i] - starts[i];
    }
    return sum;
  }

  /** Whether {@code [offset, offset + length)} lies inside one range. */
  public boolean covers(long offset, long length) {
    int i = Arrays.binarySearch(starts, offset);
    if (i < 0) {
      i = -i - 2;  // the last range starting before offset
    }
    return i >= 0 && offset + length <= ends[i];
  }

  /** Collects ranges in increasing order, joining those that touch or overlap. */
  public static final class Builder {
    private long[] starts = new long[64];
    private long[] ends = new long[64];
    private int n;

    private Builder() {}

    /** Adds {@code [offset, offset + length)}; offsets must not decrease. */
    public Builder add(long offset, long length) {
      if (length <= 0) {
        return this;
      }
      if (n > 0 && offset < starts[n - 1]) {
        throw new IllegalArgumentException("ranges must be added in increasing order: " + offset
            + " after " + starts[n - 1]);
      }
      if (n > 0 && offset <= ends[n - 1]) {
        ends[n - 1] = Math.max(ends[n - 1], offset + length);
        return this;
      }
      if (n == starts.length) {
        starts = Arrays.copyOf(starts, n * 2);
        ends = Arrays.copyOf(ends, n * 2);
      }
      starts[n] = offset;
      ends[n] = offset + length;
      n++;
      return this;
    }

    /**
     * The allocation; with more than {@value #MAX_RANGES} ranges the smallest gaps are
     * closed (the merged ranges then cover some zeros) until it fits.
     */
    public Allocation build() {
      if (n <= MAX_RANGES) {
        return new Allocation(Arrays.copyOf(starts, n), Arrays.copyOf(ends, n));
      }
      long[] gaps = new long[n - 1];
      for (int i = 1; i < n; i++) {
        gaps[i - 1] = starts[i] - ends[i - 1];
      }
      long[] sorted = gaps.clone();
      Arrays.sort(sorted);
      long threshold = sorted[n - MAX_RANGES - 1];  // closing every gap up to this one fits
      long[] s = new long[MAX_RANGES];
      long[] e = new long[MAX_RANGES];
      int m = 0;
      s[0] = starts[0];
      e[0] = ends[0];
      for (int i = 1; i < n; i++) {
        if (gaps[i - 1] <= threshold) {
          e[m] = ends[i];
        } else {
          m++;
          s[m] = starts[i];
          e[m] = ends[i];
        }
      }
      return new Allocation(Arrays.copyOf(s, m + 1), Arrays.copyOf(e, m + 1));
    }
  }
}
