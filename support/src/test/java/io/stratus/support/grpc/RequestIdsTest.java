package io.stratus.support.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ForwardingServerCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.stub.MetadataUtils;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/**
 * The request id follows a call: a peer's id is taken (a malformed one replaced), the
 * public API's calls get a new one each, the handler sees it in its context and in the
 * MDC, the answer's headers name it, and a client sends the id of the work it does.
 */
class RequestIdsTest {

  /** What the handler saw while serving the call: {context id, MDC id}. */
  private record Seen(String context, String mdc) {}

  private static Seen call(ServerInterceptor ids, String sent, AtomicReference<Metadata> answer)
      throws Exception {
    AtomicReference<Seen> seen = new AtomicReference<>();
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus("", ServingStatus.SERVING);
    ServerInterceptor probe = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata h,
          ServerCallHandler<Q, R> next) {
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
            next.startCall(call, h)) {
          @Override
          public void onHalfClose() {
            seen.set(new Seen(RequestIds.current(), MDC.get(RequestIds.MDC_KEY)));
            super.onHalfClose();
          }
        };
      }
    };
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(health.getHealthService(), probe, ids))
        .build().start();
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
        .usePlaintext().intercept(RequestIds.client()).build();
    try {
      AtomicReference<Metadata> trailers = new AtomicReference<>();
      var stub = HealthGrpc.newBlockingStub(channel)
          .withInterceptors(MetadataUtils.newCaptureMetadataInterceptor(answer, trailers));
      if (sent == null) {
        stub.check(HealthCheckRequest.getDefaultInstance());
      } else {
        RequestIds.withId(sent, () -> stub.check(HealthCheckRequest.getDefaultInstance()));
      }
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
    return seen.get();
  }

  @Test
  void aPeersIdIsTakenSeenByTheHandlerAndAnswered() throws Exception {
    AtomicReference<Metadata> answer = new AtomicReference<>();
    Seen seen = call(RequestIds.serverPropagating(), "req-from-the-conductor", answer);
    assertEquals(new Seen("req-from-the-conductor", "req-from-the-conductor"), seen);
    assertEquals("req-from-the-conductor", answer.get().get(RequestIds.KEY));
    assertEquals(null, MDC.get(RequestIds.MDC_KEY), "the caller's MDC is restored");
  }

  @Test
  void aMalformedOrMissingIdIsReplacedByANewOne() throws Exception {
    AtomicReference<Metadata> answer = new AtomicReference<>();
    Seen seen = call(RequestIds.serverPropagating(), "bad id; drop table", answer);
    assertTrue(seen.context().startsWith("req-"), seen.toString());
    assertEquals(seen.context(), seen.mdc());
    assertEquals(seen.context(), answer.get().get(RequestIds.KEY));
    Seen none = call(RequestIds.serverPropagating(), null, answer);
    assertTrue(none.context().startsWith("req-"), none.toString());
  }

  @Test
  void thePublicApiGivesEveryCallItsOwnId() throws Exception {
    AtomicReference<Metadata> answer = new AtomicReference<>();
    Seen seen = call(RequestIds.serverAssigning(), "req-chosen-by-a-client", answer);
    assertNotEquals("req-chosen-by-a-client", seen.context());
    assertTrue(seen.context().startsWith("req-"));
    assertEquals(seen.context(), answer.get().get(RequestIds.KEY));
  }
}
