package io.stratus.gateway.api;

import com.google.protobuf.UnsafeByteOperations;
import io.grpc.stub.ServerCallStreamObserver;
import io.stratus.gateway.domain.ImageMessages;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.store.Extent;
import io.stratus.gateway.upload.DataMeters;
import io.stratus.gateway.store.ExtentSource;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.support.digest.ExtentChecksums;
import io.stratus.support.errors.ApiException;
import io.stratus.support.grpc.GrpcErrors;
import io.stratus.proto.image.v1.DownloadImageResponse;
import io.stratus.proto.image.v1.ZeroExtent;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends an image as extents only while the client can take them ({@code isReady}), and
 * resumes from the on-ready callback, so a slow reader never makes the gateway buffer.
 */
final class DownloadPump {
  private static final Logger LOG = LoggerFactory.getLogger(DownloadPump.class);

  private final ServerCallStreamObserver<DownloadImageResponse> call;
  private final ImageRecord image;
  private final ExtentSource source;
  private final int chunk;
  private boolean headerSent;
  private boolean done;

  DownloadPump(ServerCallStreamObserver<DownloadImageResponse> call, ImageRecord image,
      ExtentSource source, int chunk) {
    this.call = call;
    this.image = image;
    this.source = source;
    this.chunk = chunk;
  }

  void start() {
    call.setOnCancelHandler(this::close);
    call.setOnReadyHandler(this::pump);
    pump();
  }

  private synchronized void pump() {
    try {
      while (!done && call.isReady()) {
        if (!headerSent) {
          call.onNext(DownloadImageResponse.newBuilder().setImage(ImageMessages.toProto(image)).build());
          headerSent = true;
          continue;
        }
        Extent e = source.next(chunk);
        if (e == null) {
          done = true;
          close();
          call.onCompleted();
          return;
        }
        call.onNext(switch (e) {
          case Extent.Data d -> {
            DataMeters.DOWNLOADED.increment(d.data().remaining());
            yield DownloadImageResponse.newBuilder().setData(DataExtent.newBuilder()
                .setOffset(d.offset()).setData(UnsafeByteOperations.unsafeWrap(d.data()))
                .setCrc32C(ExtentChecksums.crc32c(d.data()))).build();
          }
          case Extent.Zero z -> DownloadImageResponse.newBuilder().setZero(ZeroExtent.newBuilder()
              .setOffset(z.offset()).setLength(z.length())).build();
        });
      }
    } catch (IOException | RuntimeException e) {
      done = true;
      close();
      LOG.warn("download failed; image={}", image.id(), e);
      call.onError(GrpcErrors.toStatus(e instanceof ApiException api ? api
          : ApiException.unavailable("reading image " + image.id() + " failed: "
              + e.getMessage(), e)));
    }
  }

  private synchronized void close() {
    done = true;
    try {
      source.close();
    } catch (IOException e) {
      LOG.debug("closing image source failed; image={}", image.id(), e);
    }
  }
}
