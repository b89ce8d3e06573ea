package io.stratus.cli.image;

import io.grpc.Channel;
import io.stratus.cli.output.ProgressBar;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.support.imageio.Allocation;
import io.stratus.support.imageio.ImageUploader;
import io.stratus.support.imageio.ResumableUpload;
import io.stratus.support.imageio.SparseFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;

/**
 * Uploads a raw file as extents through the shared {@link ImageUploader}. Only the file's
 * data ranges are read (the file system reports its holes, {@link SparseFiles}); inside
 * them, 4 MiB blocks (at 4 MiB-aligned offsets) that read as all zeros still travel as
 * zero extents, the rest as data with its CRC32C. Nothing is hashed here: the gateway
 * computes the content digest. A gateway restart mid-upload is survived: the upload
 * resumes from the gateway's committed offset ({@link ResumableUpload}).
 */
final class SparseUpload {
  private static final int BLOCK = 4 << 20;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(BLOCK).asReadOnlyBuffer();
  private static final Duration FINISH_TIMEOUT = Duration.ofMinutes(10);

  private SparseUpload() {}

  static UploadImageResponse send(Channel gateway, String imageId, Path file,
      ProgressBar progress) throws IOException, InterruptedException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      List<SparseFiles.Range> ranges = SparseFiles.dataRanges(file, size);
      Allocation.Builder allocation = Allocation.builder();
      ranges.forEach(r -> allocation.add(r.offset(), r.length()));
      ByteBuffer buf = ByteBuffer.allocateDirect(BLOCK);
      // After an image-gateway restart the upload goes on from the gateway's committed
      // offset: blocks before it are not read again (nothing is hashed here).
      var result = ResumableUpload.run(gateway, imageId, "cli-" + System.nanoTime(), size, false,
          allocation.build(), (upload, from) -> {
            for (SparseFiles.Range r : ranges) {
              long end = r.offset() + r.length();
              for (long off = Math.max(r.offset(), from); off < end; ) {
                int n = (int) Math.min(BLOCK - off % BLOCK, end - off);
                buf.clear().limit(n);
                while (buf.hasRemaining() && ch.read(buf, off + buf.position()) >= 0) {
                  // fill the block
                }
                buf.flip();
                if (buf.mismatch(ZEROS.duplicate().limit(buf.limit())) >= 0) {
                  upload.data(off, buf);  // copied before it returns: the buffer is ours again
                }
                off += n;
                progress.update("uploading", off, size);
              }
            }
            progress.update("uploading", size, size);
            return "";
          }, ResumableUpload.Retry.DEFAULT, FINISH_TIMEOUT);
      return result.response();
    }
  }
}
