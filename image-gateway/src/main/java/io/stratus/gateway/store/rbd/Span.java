package io.stratus.gateway.store.rbd;

/** A byte range {@code [offset, offset + length)} of an RBD image. */
record Span(long offset, long length) {
  long end() {
    return offset + length;
  }
}
