package io.stratus.support.imageio;

import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.stratus.proto.image.v1.DataExtent;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadHeader;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.proto.image.v1.UploadTrailer;
import io.stratus.proto.image.v1.ZeroExtent;
import io.stratus.support.digest.ExtentChecksums;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The one client of {@code Images/UploadImage}, shared by the agent, the CLI and the tests:
 * a header, then extents in offset order, each data extent with its CRC32C, then the
 * trailer with the extent chain. Manual flow control: {@link #data} and {@link #zero}
 * block while the transport is not ready, so the sender never queues more than gRPC's
 * window however fast it reads. Costs follow the data: nothing here touches a hole.
 *
 * <pre>{@code
 * try (ImageUploader up = ImageUploader.start(channel, imageId, uploadId, size, 0)) {
 *   up.data(0, bytes); up.zero(4 << 20, 1 << 30);
 *   UploadImageResponse done = up.finish(Duration.ofMinutes(10));
 * }
 * }</pre>
 * Closing an unfinished uploader cancels the call (the gateway re-queues the image).
 */
public final class ImageUploader implements AutoCloseable {
  /**
   * Bytes of data extents sent to a gateway by this process, {@code
   * stratus_upload_sent_bytes_total} (an agent's snapshots, a CLI's uploads).
   */
  private static final io.micrometer.core.instrument.Counter SENT =
      io.micrometer.core.instrument.Counter.builder("stratus.upload.sent").baseUnit("bytes")
          .description("image data bytes sent to the image-gateway")
          .register(io.micrometer.core.instrument.Metrics.globalRegistry);

  private final Object readiness = new Object();
  private final CompletableFuture<UploadImageResponse> response = new CompletableFuture<>();
  private final ExtentChecksums checksums = new ExtentChecksums();
  private ClientCallStreamObserver<UploadImageRequest> call;
  private boolean finished;

  private ImageUploader(Channel gateway) {
    ImagesGrpc.newStub(gateway).uploadImage(new ClientResponseObserver<UploadImageRequest,
        UploadImageResponse>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<UploadImageRequest> requestStream) {
        call = requestStream;
        requestStream.setOnReadyHandler(() -> {
          synchronized (readiness) {
            readiness.notifyAll();
          }
        });
      }

      @Override
      public void onNext(UploadImageResponse value) {
        response.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        response.completeExceptionally(t);
        synchronized (readiness) {
          readiness.notifyAll();
        }
      }

      @Override
      public void onCompleted() {
        response.completeExceptionally(Status.INTERNAL
            .withDescription("the image-gateway ended the upload without an answer").asRuntimeException());
      }
    });
  }

  /**
   * Opens an upload of content of {@code virtualSize} bytes into queued image {@code imageId};
   * {@code resumeOffset} is 0 or the gateway's committed offset of the same {@code uploadId}.
   */
  public static ImageUploader start(Channel gateway, String imageId, String uploadId,
      long virtualSize, long resumeOffset) throws InterruptedException {
    return start(gateway, imageId, uploadId, virtualSize, resumeOffset, false);
  }

  /**
   * As {@link #start(Channel, String, String, long, long)}; with {@code digestInTrailer} the
   * sender promises the content digest in the trailer ({@link #finish(Duration, String)}),
   * so the gateway need not compute it on the critical path.
   */
  public static ImageUploader start(Channel gateway, String imageId, String uploadId,
      long virtualSize, long resumeOffset, boolean digestInTrailer) throws InterruptedException {
    return start(gateway, imageId, uploadId, virtualSize, resumeOffset, digestInTrailer, null);
  }

  /**
   * As {@link #start(Channel, String, String, long, long, boolean)}, announcing where the
   * data extents will lie ({@code allocation}, or null when not known in advance): a store
   * without sparse writes then stores only the allocated clusters. Every later {@link
   * #data} must lie inside it.
   */
  public static ImageUploader start(Channel gateway, String imageId, String uploadId,
      long virtualSize, long resumeOffset, boolean digestInTrailer, Allocation allocation)
      throws InterruptedException {
    ImageUploader u = new ImageUploader(gateway);
    UploadHeader.Builder header = UploadHeader.newBuilder()
        .setImageId(imageId).setUploadId(uploadId).setVirtualSize(virtualSize)
        .setDiskFormat("raw").setResumeOffset(resumeOffset)
        .setContentDigestInTrailer(digestInTrailer);
    if (allocation != null) {
      header.setAllocation(allocation.toMessage());
    }
    u.send(UploadImageRequest.newBuilder().setHeader(header).build());
    return u;
  }

  /**
   * Sends {@code data} (position to limit, at most 4 MiB) at guest {@code offset}, with its
   * CRC32C. The bytes are copied into the transport's buffers before this returns (gRPC
   * serialises a message in the sending thread once the stream is ready, which {@link
   * #send} waits for), so the caller may reuse the buffer then. Were that ever not so, the
   * gateway's CRC check would refuse the extent rather than store other bytes.
   */
  public void data(long offset, ByteBuffer data) throws InterruptedException {
    SENT.increment(data.remaining());
    int crc = ExtentChecksums.crc32c(data);
    checksums.add(offset, data.remaining(), crc);
    send(UploadImageRequest.newBuilder().setData(DataExtent.newBuilder().setOffset(offset)
        .setData(UnsafeByteOperations.unsafeWrap(data.duplicate())).setCrc32C(crc)).build());
  }

  /** Says that {@code [offset, offset + length)} reads as zeros. */
  public void zero(long offset, long length) throws InterruptedException {
    send(UploadImageRequest.newBuilder().setZero(ZeroExtent.newBuilder().setOffset(offset)
        .setLength(length)).build());
  }

  /** Bytes of data extents sent so far. */
  public long dataBytes() {
    return checksums.dataBytes();
  }

  /**
   * Sends the trailer (with {@code contentDigest} when the sender knows it, else empty),
   * half-closes and waits up to {@code timeout} for the gateway's answer.
   */
  public UploadImageResponse finish(Duration timeout, String contentDigest)
      throws InterruptedException {
    send(UploadImageRequest.newBuilder().setTrailer(UploadTrailer.newBuilder()
        .setExtentsCrc32C(checksums.chain()).setDataBytes(checksums.dataBytes())
        .setContentDigest(contentDigest == null ? "" : contentDigest)).build());
    call.onCompleted();
    finished = true;
    try {
      return response.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof StatusRuntimeException sre ? sre
          : Status.UNAVAILABLE.withCause(e.getCause()).asRuntimeException();
    } catch (TimeoutException e) {
      call.cancel("the image-gateway did not answer", null);
      throw Status.DEADLINE_EXCEEDED.withDescription("the image-gateway did not confirm the upload in "
          + timeout.toSeconds() + " s").asRuntimeException();
    }
  }

  /** {@link #finish(Duration, String)} without a content digest. */
  public UploadImageResponse finish(Duration timeout) throws InterruptedException {
    return finish(timeout, "");
  }

  /** Breaks the upload off (the gateway re-queues the image). */
  public void cancel(String why) {
    finished = true;
    call.cancel(why, null);
  }

  /** Cancels the call unless it was finished. */
  @Override
  public void close() {
    if (!finished) {
      cancel("upload abandoned");
    }
  }

  private void send(UploadImageRequest m) throws InterruptedException {
    synchronized (readiness) {
      while (!call.isReady()) {
        failIfEnded();
        readiness.wait(100);
      }
    }
    failIfEnded();
    call.onNext(m);
  }

  private void failIfEnded() {
    if (response.isCompletedExceptionally()) {
      try {
        response.join();
      } catch (RuntimeException e) {
        throw e.getCause() instanceof StatusRuntimeException sre ? sre : e;
      }
    }
  }
}
