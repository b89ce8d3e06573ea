package io.stratus.ceph;

/** A byte range {@code [offset, offset + length)} of an RBD image. */
public record Span(long offset, long length) {
  public long end() {
    return offset + length;
  }
}
