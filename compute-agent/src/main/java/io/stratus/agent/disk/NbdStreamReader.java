package io.stratus.agent.disk;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fallback for disks whose extents have no usable host offset (compressed or
 * encrypted qcow2 clusters): qemu decodes them. The frozen image is exported read-only by
 * {@code qemu-nbd} on a private unix socket and streamed by {@code nbdcopy} to our stdin
 * pipe; blocks that read as all zeros become zero extents, so holes are still never sent.
 * Slower than reading the files (qemu serves NBD from one thread) and used only when the
 * plan cannot be read directly. No temp file; both processes are stopped on close.
 */
public final class NbdStreamReader implements DiskReader {
  private static final Logger LOG = LoggerFactory.getLogger(NbdStreamReader.class);
  private static final int BLOCK = 4 << 20;

  private final Path dir;
  private final Process server;
  private final Process copier;
  private final InputStream stream;
  private final long virtualSize;
  private long position;

  private NbdStreamReader(Path dir, Process server, Process copier, long virtualSize) {
    this.dir = dir;
    this.server = server;
    this.copier = copier;
    this.stream = copier.getInputStream();
    this.virtualSize = virtualSize;
  }

  /** Exports {@code image} (in {@code format}) and starts streaming it. */
  public static NbdStreamReader open(Path image, String format, long virtualSize) throws IOException {
    Path dir = Files.createTempDirectory("stratus-nbd-");
    Path socket = dir.resolve("disk.sock");
    Process server = new ProcessBuilder("qemu-nbd", "--read-only", "--format=" + format,
        "--socket=" + socket, "--shared=1", image.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("qemu-nbd.log").toFile()).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!Files.exists(socket)) {
        if (!server.isAlive() || System.nanoTime() > deadline) {
          throw new IOException("qemu-nbd did not export " + image + ": "
              + Files.readString(dir.resolve("qemu-nbd.log")).strip());
        }
        Thread.sleep(10);
      }
      Process copier = new ProcessBuilder("nbdcopy", "--request-size=" + BLOCK,
          "nbd+unix:///?socket=" + socket, "-")
          .redirectError(dir.resolve("nbdcopy.log").toFile()).start();
      LOG.info("reading the disk through qemu-nbd; image={} size={}", image, virtualSize);
      return new NbdStreamReader(dir, server, copier, virtualSize);
    } catch (IOException | InterruptedException | RuntimeException e) {
      server.destroyForcibly();
      deleteDir(dir);
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while exporting " + image, e);
      }
      throw e instanceof IOException io ? io : new IOException(e);
    }
  }

  @Override
  public Piece next() throws IOException {
    if (position >= virtualSize) {
      return null;
    }
    byte[] block = stream.readNBytes((int) Math.min(BLOCK, virtualSize - position));
    if (block.length == 0) {
      throw new IOException("nbdcopy ended at " + position + " of " + virtualSize + " bytes: "
          + Files.readString(dir.resolve("nbdcopy.log")).strip());
    }
    long at = position;
    position += block.length;
    if (allZero(block)) {
      return new Piece(DiskExtent.zero(at, block.length), null);
    }
    return new Piece(new DiskExtent(at, block.length, null, -1), ByteBuffer.wrap(block));
  }

  private static boolean allZero(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void close() {
    copier.destroyForcibly();
    server.destroyForcibly();
    try {
      copier.waitFor(10, TimeUnit.SECONDS);
      server.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    deleteDir(dir);
  }

  private static void deleteDir(Path dir) {
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      LOG.debug("could not remove {}", dir, e);
    }
  }
}
