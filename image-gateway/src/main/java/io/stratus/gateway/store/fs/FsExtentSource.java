package io.stratus.gateway.store.fs;

import io.stratus.gateway.store.Extent;
import io.stratus.gateway.store.ExtentSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;

/** Reads a sparse file's content through its extent map: data as read, holes as zeros. */
final class FsExtentSource implements ExtentSource {
  private final FileChannel channel;
  private final Iterator<ExtentMap.Run> runs;
  private final long size;
  private long position;
  private ExtentMap.Run current;

  FsExtentSource(Path file, ExtentMap map, long size) throws IOException {
    this.channel = FileChannel.open(file, StandardOpenOption.READ);
    this.runs = map.runs().iterator();
    this.size = size;
  }

  @Override
  public Extent next(int maxChunk) throws IOException {
    if (current == null && runs.hasNext()) {
      current = runs.next();
    }
    if (current == null) {
      if (position < size) {
        Extent tail = new Extent.Zero(position, size - position);
        position = size;
        return tail;
      }
      return null;
    }
    if (position < current.offset()) {
      Extent hole = new Extent.Zero(position, current.offset() - position);
      position = current.offset();
      return hole;
    }
    int n = (int) Math.min(maxChunk, current.end() - position);
    ByteBuffer buf = ByteBuffer.allocate(n);
    while (buf.hasRemaining()) {
      int r = channel.read(buf, position + buf.position());
      if (r < 0) {
        throw new IOException("image file shorter than its extent map");
      }
    }
    buf.flip();
    Extent data = new Extent.Data(position, buf);
    position += n;
    if (position == current.end()) {
      current = null;
    }
    return data;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
