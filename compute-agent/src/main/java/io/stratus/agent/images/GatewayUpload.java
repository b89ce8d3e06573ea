package io.stratus.agent.images;

import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The client side of one UploadImage stream with manual flow control: {@link #send}
 * blocks while the transport is not ready, so the agent never queues more than gRPC's
 * window however fast it reads the disk.
 */
public final class GatewayUpload {
  private final Object readiness = new Object();
  private final CompletableFuture<UploadImageResponse> response = new CompletableFuture<>();
  private ClientCallStreamObserver<UploadImageRequest> call;

  public GatewayUpload(Channel gateway) {
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
      public void onCompleted() {}
    });
  }

  /** Sends one message once the stream can take it; fails if the gateway ended the call. */
  public void send(UploadImageRequest m) throws InterruptedException {
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

  /** Half-closes and waits for the gateway's answer. */
  public UploadImageResponse finish(long timeoutSeconds) throws InterruptedException {
    call.onCompleted();
    try {
      return response.get(timeoutSeconds, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof StatusRuntimeException sre ? sre
          : Status.UNAVAILABLE.withCause(e.getCause()).asRuntimeException();
    } catch (TimeoutException e) {
      call.cancel("gateway did not answer", null);
      throw Status.DEADLINE_EXCEEDED.withDescription("the image-gateway did not confirm the upload")
          .asRuntimeException();
    }
  }

  /** Breaks the upload off (the gateway re-queues the image). */
  public void cancel(String why) {
    call.cancel(why, null);
  }
}
