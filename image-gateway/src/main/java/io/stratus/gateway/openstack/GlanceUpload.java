package io.stratus.gateway.openstack;

import com.google.protobuf.ByteString;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.upload.UploadSession;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadTrailer;
import io.stratus.proto.image.v1.ZeroExtent;
import io.stratus.support.digest.ExtentChecksums;
import io.stratus.support.errors.ApiException;
import io.stratus.support.rest.RestExchange;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.UUID;
import java.util.function.UnaryOperator;

/**
 * Glance's {@code PUT /v2/images/{id}/file}: the body becomes the image's data through the
 * same {@link UploadSession} as a gRPC upload (upload slots, limits, the content digest,
 * the store's commit), cut into extents of at most 4 MiB; all-zero extents are sent as
 * zeros, so a sparse store stays sparse. A body without {@code Content-Length} (chunked)
 * is spooled to a temporary file first, since the session needs the size up front. Only
 * {@code raw} images take data here: Stratus stores guest content, and converting other
 * formats is the CLI's job. A failed upload leaves the image queued, its data discarded.
 */
final class GlanceUpload {
  private static final int EXTENT = 4 << 20;

  private GlanceUpload() {}

  static ImageRecord put(RestExchange x, ImageRecord image, UploadSession session,
      UnaryOperator<ImageRecord> activated) throws IOException {
    if (!image.diskFormat().isEmpty() && !image.diskFormat().equals("raw")) {
      throw ApiException.invalidArgument("disk_format", "this API takes the data of raw images"
          + " only, and image " + image.id() + " is " + image.diskFormat()
          + "; upload it with the stratus CLI, which converts it");
    }
    long length = contentLength(x);
    Path spool = null;
    InputStream in = x.body();
    try {
      if (length < 0) {
        spool = Files.createTempFile("glance-upload-", ".raw");
        Files.copy(in, spool, StandardCopyOption.REPLACE_EXISTING);
        length = Files.size(spool);
        in = Files.newInputStream(spool);
      }
      session.header(UploadHeader.newBuilder().setImageId(image.id())
          .setUploadId("glance-" + UUID.randomUUID()).setVirtualSize(length)
          .setDiskFormat("raw").build());
      ExtentChecksums sums = new ExtentChecksums();
      byte[] buf = new byte[EXTENT];
      for (long offset = 0; offset < length;) {
        int n = in.readNBytes(buf, 0, (int) Math.min(buf.length, length - offset));
        if (n == 0) {
          throw ApiException.invalidArgument("body", "ended after " + offset + " of the "
              + length + " bytes Content-Length announced");
        }
        if (zeros(buf, n)) {
          session.zero(ZeroExtent.newBuilder().setOffset(offset).setLength(n).build());
        } else {
          int crc = ExtentChecksums.crc32c(ByteBuffer.wrap(buf, 0, n));
          session.data(DataExtent.newBuilder().setOffset(offset)
              .setData(ByteString.copyFrom(buf, 0, n)).setCrc32C(crc).build());
          sums.add(offset, n, crc);
        }
        offset += n;
      }
      session.trailer(UploadTrailer.newBuilder().setExtentsCrc32C(sums.chain())
          .setDataBytes(sums.dataBytes()).build());
      return activated.apply(session.complete());
    } catch (IOException e) {
      session.abandon(false);
      throw UploadSession.storeFailure(image.id(), e);
    } catch (RuntimeException e) {
      session.abandon(false);
      throw e;
    } finally {
      in.close();
      if (spool != null) {
        Files.deleteIfExists(spool);
      }
    }
  }

  private static long contentLength(RestExchange x) {
    String header = x.header("Content-Length");
    if (header == null) {
      return -1;
    }
    try {
      long n = Long.parseLong(header.strip());
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw ApiException.invalidArgument("Content-Length", "not a byte count: " + header);
    }
  }

  private static boolean zeros(byte[] buf, int n) {
    for (int i = 0; i < n; i++) {
      if (buf[i] != 0) {
        return false;
      }
    }
    return true;
  }
}
