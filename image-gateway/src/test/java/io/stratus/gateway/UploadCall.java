package io.stratus.gateway;

import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.stratus.proto.image.v1.ImagesGrpc;
import io.stratus.proto.image.v1.UploadImageRequest;
import io.stratus.proto.image.v1.UploadImageResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** One client-streaming UploadImage call in a test: what to send on, and its outcome. */
final class UploadCall {
  final StreamObserver<UploadImageRequest> out;
  final CompletableFuture<UploadImageResponse> result = new CompletableFuture<>();

  private UploadCall(ImagesGrpc.ImagesStub stub) {
    out = stub.uploadImage(new StreamObserver<>() {
      @Override
      public void onNext(UploadImageResponse value) {
        result.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
  }

  /** Opens the call on {@code channel}, with a deadline of {@code seconds} if positive. */
  static UploadCall open(Channel channel, long seconds) {
    ImagesGrpc.ImagesStub stub = ImagesGrpc.newStub(channel);
    return new UploadCall(seconds > 0 ? stub.withDeadlineAfter(seconds, TimeUnit.SECONDS) : stub);
  }

  /** Breaks the call off as a client that goes away. */
  void giveUp(String why) {
    out.onError(Status.CANCELLED.withDescription(why).asRuntimeException());
  }
}
