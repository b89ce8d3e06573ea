package io.stratus.cli.output;

import com.google.protobuf.Timestamp;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/** Cell formats shared by the tables: sizes, times, durations and maps. */
public final class Formats {
  private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

  private Formats() {}

  /** {@code 1536 → 1.5 KiB}; bytes below 1 KiB print exactly. */
  public static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    double v = n;
    int unit = 0;
    while (v >= 1024 && unit + 1 < UNITS.length) {
      v /= 1024;
      unit++;
    }
    return String.format(Locale.ROOT, "%.1f %s", v, UNITS[unit]);
  }

  /** RFC 3339 to the second, empty when unset. */
  public static String time(Timestamp t) {
    if (t.getSeconds() == 0 && t.getNanos() == 0) {
      return "";
    }
    return Instant.ofEpochSecond(t.getSeconds()).toString();
  }

  /** {@code 75 → 1:15}, {@code 3725 → 1:02:05}. */
  public static String duration(long seconds) {
    long h = seconds / 3600;
    long m = seconds / 60 % 60;
    long s = seconds % 60;
    return h > 0
        ? String.format(Locale.ROOT, "%d:%02d:%02d", h, m, s)
        : String.format(Locale.ROOT, "%d:%02d", m, s);
  }

  /** {@code k1='v1', k2='v2'} in key order, as the OpenStack client prints properties. */
  public static String map(Map<String, String> map) {
    return new TreeMap<>(map).entrySet().stream()
        .map(e -> e.getKey() + "='" + e.getValue() + "'")
        .collect(Collectors.joining(", "));
  }
}
