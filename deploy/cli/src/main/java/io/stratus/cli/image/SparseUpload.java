package io.stratus.cli.image;

import io.grpc.Channel;
import io.stratus.cli.output.ProgressBar;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.support.imageio.ImageUploader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;

/**
 * Uploads a raw file as extents through the shared {@link ImageUploader}: 4 MiB blocks
 * that read as all zeros travel as zero extents (so a sparse file's holes are never sent),
 * the rest as data with its CRC32C. The zero test is a vectorised compare, far cheaper
 * than the copy; nothing is hashed here (the gateway computes the content digest).
 */
final class SparseUpload {
  private static final int BLOCK = 4 << 20;
  private static final byte[] ZEROS = new byte[BLOCK];
  private static final Duration FINISH_TIMEOUT = Duration.ofMinutes(10);

  private SparseUpload() {}

  static UploadImageResponse send(Channel gateway, String imageId, Path file,
      ProgressBar progress) throws IOException, InterruptedException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      try (ImageUploader upload = ImageUploader.start(gateway, imageId,
          "cli-" + System.nanoTime(), size, 0)) {
        long zeroFrom = -1;
        for (long off = 0; off < size; off += BLOCK) {
          byte[] block = new byte[(int) Math.min(BLOCK, size - off)];
          ByteBuffer buf = ByteBuffer.wrap(block);
          while (buf.hasRemaining() && ch.read(buf, off + buf.position()) >= 0) {
            // fill the block
          }
          if (Arrays.mismatch(block, 0, block.length, ZEROS, 0, block.length) < 0) {
            zeroFrom = zeroFrom < 0 ? off : zeroFrom;  // merged with the zeros before it
          } else {
            if (zeroFrom >= 0) {
              upload.zero(zeroFrom, off - zeroFrom);
              zeroFrom = -1;
            }
            upload.data(off, buf.flip());
          }
          progress.update("uploading", off + block.length, size);
        }
        if (zeroFrom >= 0) {
          upload.zero(zeroFrom, size - zeroFrom);
        }
        return upload.finish(FINISH_TIMEOUT);
      }
    }
  }
}
