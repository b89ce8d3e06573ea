package io.stratus.testkit;

import io.grpc.Channel;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Asks a server's gRPC reflection service one question, as grpcurl does. */
public final class GrpcReflection {
  private GrpcReflection() {}

  /** One reflection request and its answer, on a fresh stream (10 s at most). */
  public static ServerReflectionResponse ask(Channel channel, ServerReflectionRequest request)
      throws Exception {
    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> out = ServerReflectionGrpc.newStub(channel)
        .serverReflectionInfo(new StreamObserver<>() {
          @Override
          public void onNext(ServerReflectionResponse value) {
            answer.complete(value);
          }

          @Override
          public void onError(Throwable t) {
            answer.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    out.onNext(request);
    try {
      return answer.get(10, TimeUnit.SECONDS);
    } finally {
      out.onCompleted();
    }
  }
}
