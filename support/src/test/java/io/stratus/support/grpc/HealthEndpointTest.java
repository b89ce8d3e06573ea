package io.stratus.support.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.stub.StreamObserver;
import io.stratus.support.config.OptionalEndpoint;
import io.stratus.support.config.Settings;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The plaintext probe port answers the service's health, follows its changes, and serves
 * nothing else.
 */
class HealthEndpointTest {

  @Test
  void answersTheServicesHealthAndNothingElse() throws Exception {
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus("stratus.conductor.v1.Servers", ServingStatus.SERVING);
    try (HealthEndpoint endpoint = HealthEndpoint.start(
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)),
        health.getHealthService())) {
      ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", endpoint.port())
          .usePlaintext().build();
      try {
        var probe = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS);
        assertEquals(ServingStatus.SERVING, probe.check(HealthCheckRequest.getDefaultInstance())
            .getStatus());
        assertEquals(ServingStatus.SERVING, probe.check(HealthCheckRequest.newBuilder()
            .setService("stratus.conductor.v1.Servers").build()).getStatus());

        CompletableFuture<Status> other = new CompletableFuture<>();
        var call = ServerReflectionGrpc.newStub(channel).serverReflectionInfo(
            new StreamObserver<>() {
              @Override
              public void onNext(io.grpc.reflection.v1.ServerReflectionResponse value) {
                other.complete(Status.OK);
              }

              @Override
              public void onError(Throwable t) {
                other.complete(Status.fromThrowable(t));
              }

              @Override
              public void onCompleted() {
                other.complete(Status.OK);
              }
            });
        call.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        call.onCompleted();
        assertEquals(Status.Code.UNIMPLEMENTED, other.get(5, TimeUnit.SECONDS).getCode(),
            "nothing but health is served there");

        health.enterTerminalState();
        assertEquals(ServingStatus.NOT_SERVING,
            HealthGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
                .check(HealthCheckRequest.getDefaultInstance()).getStatus());
        StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class,
            () -> HealthGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService("no.such.Service").build()));
        assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
      } finally {
        channel.shutdownNow();
      }
    }
  }

  @Test
  void isOffUnlessAPortIsSetAndListensOnTheServicesHostByDefault() {
    var off = OptionalEndpoint.read(Settings.of("test", "T_", Map.of()), "health", "10.0.0.5");
    assertFalse(off.enabled());
    var on = OptionalEndpoint.read(Settings.of("test", "T_", Map.of("health.port", "8080")),
        "health", "10.0.0.5");
    assertTrue(on.enabled());
    assertEquals(new OptionalEndpoint("10.0.0.5", 8080), on);
    var elsewhere = OptionalEndpoint.read(Settings.of("test", "T_",
        Map.of("health.port", "8080", "health.listen.host", "0.0.0.0")), "health", "127.0.0.1");
    assertEquals("0.0.0.0", elsewhere.host());
  }
}
