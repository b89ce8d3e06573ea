package io.stratus.cli.image;

import io.stratus.cli.CliException;
import io.stratus.cli.output.ProgressBar;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.Image;
import io.stratus.support.imageio.DownloadVerifier;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;

/**
 * Writes a {@code DownloadImage} stream to a raw file without filling holes: data extents
 * are written at their offsets, zero extents are skipped (a fresh file reads zeros there),
 * and the length is set to the virtual size at the end, so a trailing hole stays a hole.
 * Every data extent is checked against its CRC32C, and the content against the image's
 * content digest (the cost follows the data: holes are never hashed). Bytes go to {@code
 * FILE.part}, renamed to {@code FILE} only once they verified; on any failure the part file
 * is removed. Memory stays flat: one extent (at most 4 MiB) at a time.
 */
final class SparseDownload {
  /**
   * @param contentDigest content digest of the written content
   * @param verified whether it was compared with the image's
   */
  record Result(Image image, long bytes, String contentDigest, boolean verified) {}

  private final Path target;
  private final Path part;
  private final ProgressBar progress;
  private long cursor;

  private SparseDownload(Path target, ProgressBar progress) {
    this.target = target;
    this.part = target.resolveSibling(target.getFileName() + ".part");
    this.progress = progress;
  }

  /** Writes {@code stream} to {@code target} and verifies it. */
  static Result write(Iterator<DownloadImageResponse> stream, Path target, ProgressBar progress)
      throws IOException {
    SparseDownload d = new SparseDownload(target, progress);
    try {
      return d.run(stream);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(d.part);
      throw e;
    }
  }

  private Result run(Iterator<DownloadImageResponse> stream) throws IOException {
    if (!stream.hasNext()) {
      throw CliException.failed("the image-gateway sent an empty download stream");
    }
    DownloadImageResponse first = stream.next();
    if (!first.hasImage()) {
      throw CliException.failed("the download stream did not start with the image record");
    }
    Image image = first.getImage();
    long size = image.getVirtualSize();
    boolean verified;
    String digest;
    try (RandomAccessFile file = new RandomAccessFile(part.toFile(), "rw");
        DownloadVerifier verifier = new DownloadVerifier(image)) {
      file.setLength(0);
      FileChannel channel = file.getChannel();
      while (stream.hasNext()) {
        DownloadImageResponse m = stream.next();
        switch (m.getKindCase()) {
          case DATA -> data(channel, m.getData().getOffset(), verifier.data(m.getData()));
          case ZERO -> {
            verifier.zero(m.getZero().getOffset(), m.getZero().getLength());
            zeros(m.getZero().getOffset(), m.getZero().getLength());
          }
          default -> throw CliException.failed(
              "unexpected " + m.getKindCase() + " message in the download stream");
        }
        progress.update("download", cursor, size);
      }
      if (cursor > size) {
        throw CliException.failed("the image-gateway sent " + cursor
            + " bytes for an image of virtual size " + size);
      }
      zeros(size, 0);
      file.setLength(size);
      progress.update("download", cursor, size);
      try {
        verified = verifier.finish();
      } catch (io.grpc.StatusRuntimeException e) {
        throw CliException.failed(e.getStatus().getDescription() + " (nothing was kept)");
      }
      digest = verifier.contentDigest();
    }
    Files.move(part, target, StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
    return new Result(image, size, digest, verified);
  }

  private void data(FileChannel channel, long offset, ByteBuffer bytes) throws IOException {
    zeros(offset, 0);
    long position = offset;
    while (bytes.hasRemaining()) {
      position += channel.write(bytes, position);
    }
    cursor = position;
  }

  /** Moves the cursor over a gap and then a zero extent (nothing is written or hashed). */
  private void zeros(long offset, long length) {
    if (offset < cursor) {
      throw CliException.failed("the download stream went backwards: extent at " + offset
          + " after " + cursor);
    }
    cursor = offset + length;
  }
}
