package io.stratus.e2e;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Median, 99th percentile and maximum of a sample (milliseconds), with its size. */
record Percentiles(double p50, double p99, double max, int count) {
  static Percentiles of(List<Double> sample) {
    if (sample.isEmpty()) {
      return new Percentiles(Double.NaN, Double.NaN, Double.NaN, 0);
    }
    List<Double> s = new ArrayList<>(sample);
    Collections.sort(s);
    return new Percentiles(at(s, 0.50), at(s, 0.99), s.get(s.size() - 1), s.size());
  }

  /** Nearest-rank percentile. */
  private static double at(List<Double> sorted, double q) {
    int rank = (int) Math.ceil(q * sorted.size());
    return sorted.get(Math.max(0, rank - 1));
  }

  @Override
  public String toString() {
    return String.format("p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d)", p50, p99, max, count);
  }
}
