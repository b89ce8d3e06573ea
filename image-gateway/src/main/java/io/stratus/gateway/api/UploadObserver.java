package io.stratus.gateway.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.stratus.gateway.domain.ImageMessages;
import io.stratus.gateway.domain.ImageRecord;
import io.stratus.gateway.upload.UploadSession;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import io.stratus.support.errors.ApiException;
import io.stratus.support.grpc.GrpcErrors;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * The receiving side of one {@code UploadImage} call, feeding an {@link UploadSession} with
 * manual flow control: one message is requested at a time, only after the previous one
 * was written, so memory per upload stays at one extent.
 *
 * <p>An idle clock runs while the gateway waits for the uploader's next message: after
 * {@code idle} without one the call ends with RESOURCE_EXHAUSTED naming the limit ({@code
 * upload.idle}), the session gives its upload slot back and what is durable is kept for a
 * resume with the same upload id — so stalled uploaders cannot hold every slot. The time the
 * store takes to write a message does not count.
 *
 * <p>Every callback and the clock take this object's lock: the session is not thread-safe
 * and the response observer may be used by one thread at a time.
 */
final class UploadObserver implements StreamObserver<UploadImageRequest> {
  /** Runs the idle clocks of every upload of this JVM (cancelled clocks are removed). */
  private static final ScheduledThreadPoolExecutor CLOCKS = clocks();

  private final ServerCallStreamObserver<UploadImageResponse> call;
  private final UploadSession session;
  private final Duration idle;
  private final UnaryOperator<ImageRecord> activated;
  private final Consumer<String> mayUpload;
  private boolean failed;
  private ScheduledFuture<?> clock;

  /**
   * @param activated called with the record of an image the upload made active (schedules
   *     its background pass); returns the record to answer with
   * @param mayUpload throws unless the caller may upload to the header's image (before
   *     anything of the upload is taken)
   */
  UploadObserver(ServerCallStreamObserver<UploadImageResponse> call, UploadSession session,
      Duration idle, UnaryOperator<ImageRecord> activated, Consumer<String> mayUpload) {
    this.mayUpload = mayUpload;
    this.call = call;
    this.session = session;
    this.idle = idle;
    this.activated = activated;
  }

  private static ScheduledThreadPoolExecutor clocks() {
    var clocks = new ScheduledThreadPoolExecutor(1,
        Thread.ofPlatform().daemon().name("upload-idle").factory());
    clocks.setRemoveOnCancelPolicy(true);
    return clocks;
  }

  /** Asks for the header. */
  synchronized void start() {
    askForNext();
  }

  /** Asks for the next message and starts the idle clock. */
  private void askForNext() {
    stopClock();
    clock = CLOCKS.schedule(this::idleExpired, idle.toMillis(), TimeUnit.MILLISECONDS);
    call.request(1);
  }

  private void stopClock() {
    if (clock != null) {
      clock.cancel(false);
      clock = null;
    }
  }

  private synchronized void idleExpired() {
    if (failed || clock == null || call.isCancelled()) {
      return;
    }
    fail(ApiException.resourceExhausted("upload.idle: no upload message for " + idle.toMillis()
        + " ms (limit upload.idle); the upload slot is free again, resume with the same"
        + " upload_id"), true);
  }

  @Override
  public synchronized void onNext(UploadImageRequest m) {
    if (failed) {
      return;
    }
    stopClock();
    try {
      switch (m.getKindCase()) {
        case HEADER -> {
          mayUpload.accept(m.getHeader().getImageId());
          session.header(m.getHeader());
        }
        case DATA -> session.data(m.getData());
        case ZERO -> session.zero(m.getZero());
        case TRAILER -> session.trailer(m.getTrailer());
        default -> throw ApiException.invalidArgument("kind", "an empty upload message");
      }
      askForNext();
    } catch (IOException e) {
      fail(UploadSession.storeFailure(String.valueOf(m.getHeader().getImageId()), e), true);
    } catch (RuntimeException e) {
      fail(e, false);
    }
  }

  private void fail(RuntimeException e, boolean keepForResume) {
    failed = true;
    stopClock();
    session.abandon(keepForResume);
    call.onError(GrpcErrors.toStatus(e));
  }

  @Override
  public synchronized void onError(Throwable t) {
    // The client broke off: keep what is durable for a resume with the same upload id.
    stopClock();
    if (!failed) {
      failed = true;
      session.abandon(true);
    }
  }

  @Override
  public synchronized void onCompleted() {
    if (failed) {
      return;
    }
    stopClock();
    try {
      ImageRecord active = activated.apply(session.complete());
      call.onNext(UploadImageResponse.newBuilder().setImage(ImageMessages.toProto(active))
          .setBytesReceived(session.bytesReceived()).build());
      call.onCompleted();
    } catch (IOException e) {
      fail(UploadSession.storeFailure("", e), false);
    } catch (RuntimeException e) {
      fail(e, false);
    }
  }
}
