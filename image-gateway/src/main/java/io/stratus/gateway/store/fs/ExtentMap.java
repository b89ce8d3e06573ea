package io.stratus.gateway.store.fs;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The data extents of a sparse file, in offset order, merged when adjacent. Stored beside
 * the image so reads send holes as zero extents without scanning for zeros.
 */
final class ExtentMap {
  /** One run of data. */
  record Run(long offset, long length) {
    long end() {
      return offset + length;
    }
  }

  private final List<Run> runs = new ArrayList<>();

  void add(long offset, long length) {
    if (!runs.isEmpty()) {
      Run last = runs.get(runs.size() - 1);
      if (last.end() == offset) {
        runs.set(runs.size() - 1, new Run(last.offset(), last.length() + length));
        return;
      }
    }
    runs.add(new Run(offset, length));
  }

  /** Drops everything at or past {@code offset} (a resumed upload rewrites from there). */
  void truncate(long offset) {
    while (!runs.isEmpty()) {
      Run last = runs.get(runs.size() - 1);
      if (last.offset() >= offset) {
        runs.remove(runs.size() - 1);
      } else {
        if (last.end() > offset) {
          runs.set(runs.size() - 1, new Run(last.offset(), offset - last.offset()));
        }
        return;
      }
    }
  }

  List<Run> runs() {
    return List.copyOf(runs);
  }

  long dataBytes() {
    return runs.stream().mapToLong(Run::length).sum();
  }

  byte[] encode(long header) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeLong(header);
      out.writeInt(runs.size());
      for (Run r : runs) {
        out.writeLong(r.offset());
        out.writeLong(r.length());
      }
    }
    return bytes.toByteArray();
  }

  /** Reads a map written by {@link #encode}; returns the header value through {@code header}. */
  static ExtentMap read(Path file, long[] header) throws IOException {
    ExtentMap map = new ExtentMap();
    try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
      header[0] = in.readLong();
      int n = in.readInt();
      for (int i = 0; i < n; i++) {
        map.runs.add(new Run(in.readLong(), in.readLong()));
      }
    }
    return map;
  }
}
