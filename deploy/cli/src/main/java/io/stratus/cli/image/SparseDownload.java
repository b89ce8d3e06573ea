package io.stratus.cli.image;

import io.stratus.cli.CliException;
import io.stratus.cli.output.ProgressBar;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.Image;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;

/**
 * Writes a {@code DownloadImage} stream to a raw file without filling holes: data extents
 * are written at their offsets, zero extents are skipped (a fresh file reads zeros there),
 * and the length is set to the virtual size at the end, so a trailing hole stays a hole.
 * The sha512 of the guest-visible content (zeros included) is checked against the image's
 * {@code os_hash_value}. Bytes go to {@code FILE.part}, renamed to {@code FILE} only once
 * they verified; on any failure the part file is removed. Memory stays flat: one extent
 * (at most 4 MiB) at a time.
 */
final class SparseDownload {
  private static final byte[] ZEROS = new byte[1 << 20];

  /**
   * @param sha512 hex digest of the written content
   * @param verified whether it was compared with the image's os_hash_value
   */
  record Result(Image image, long bytes, String sha512, boolean verified) {}

  private final Path target;
  private final Path part;
  private final ProgressBar progress;
  private final MessageDigest sha512;
  private long cursor;

  private SparseDownload(Path target, ProgressBar progress) {
    this.target = target;
    this.part = target.resolveSibling(target.getFileName() + ".part");
    this.progress = progress;
    try {
      this.sha512 = MessageDigest.getInstance("SHA-512");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-512", e);
    }
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
    try (RandomAccessFile file = new RandomAccessFile(part.toFile(), "rw")) {
      file.setLength(0);
      FileChannel channel = file.getChannel();
      while (stream.hasNext()) {
        DownloadImageResponse m = stream.next();
        switch (m.getKindCase()) {
          case DATA -> data(channel, m.getData().getOffset(),
              m.getData().getData().asReadOnlyByteBuffer());
          case ZERO -> zeros(m.getZero().getOffset(), m.getZero().getLength());
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
    }
    String digest = HexFormat.of().formatHex(sha512.digest());
    boolean verified = verify(image, digest);
    Files.move(part, target, StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
    return new Result(image, size, digest, verified);
  }

  private void data(FileChannel channel, long offset, ByteBuffer bytes) throws IOException {
    zeros(offset, 0);
    sha512.update(bytes.duplicate());
    long position = offset;
    while (bytes.hasRemaining()) {
      position += channel.write(bytes, position);
    }
    cursor = position;
  }

  /** Digests zeros from the cursor to {@code offset + length}: a gap, then the extent. */
  private void zeros(long offset, long length) {
    if (offset < cursor) {
      throw CliException.failed("the download stream went backwards: extent at " + offset
          + " after " + cursor);
    }
    for (long left = offset + length - cursor; left > 0; left -= ZEROS.length) {
      sha512.update(ZEROS, 0, (int) Math.min(left, ZEROS.length));
    }
    cursor = offset + length;
  }

  private static boolean verify(Image image, String digest) {
    boolean sha = image.getOsHashAlgo().isEmpty() || image.getOsHashAlgo().equals("sha512");
    if (!sha || image.getOsHashValue().isEmpty()) {
      return false;
    }
    if (!image.getOsHashValue().equalsIgnoreCase(digest)) {
      throw CliException.failed("sha512 mismatch for image " + image.getId()
          + ": downloaded " + digest + ", the image record says " + image.getOsHashValue()
          + " (nothing was kept)");
    }
    return true;
  }
}
