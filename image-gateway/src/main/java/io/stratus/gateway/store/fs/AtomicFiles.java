package io.stratus.gateway.store.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Crash-safe file replacement: write a temp file in the same directory, fsync, rename. */
final class AtomicFiles {
  private AtomicFiles() {}

  static void write(Path target, byte[] content) throws IOException {
    Path tmp = target.resolveSibling(".tmp-" + target.getFileName() + "-" + Thread.currentThread().threadId());
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(content);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    publish(tmp, target);
  }

  /** Renames {@code from} over {@code to} atomically and makes the rename durable. */
  static void publish(Path from, Path to) throws IOException {
    Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDir(to.getParent());
  }

  static void fsyncDir(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Some file systems refuse fsync on a directory; the rename itself is still atomic.
    }
  }
}
