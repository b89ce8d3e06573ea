package io.stratus.support.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.micrometer.core.instrument.Counter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * A service's metrics endpoint serves its gRPC calls by method and status code, the meters
 * its code records into the global registry, and the JVM's; nothing but GET /metrics.
 */
class MetricsTest {

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static HttpResponse<String> get(int port, String path) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + port + path)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void theEndpointShowsCallsByMethodAndCodeAndTheServicesOwnMeters() throws Exception {
    int port = freePort();
    try (Metrics metrics = Metrics.start("test-service",
        new io.stratus.support.config.OptionalEndpoint("127.0.0.1", port))) {
      assertEquals(port, metrics.port());
      HealthStatusManager health = new HealthStatusManager();
      health.setStatus("", ServingStatus.SERVING);
      Server server = NettyServerBuilder.forAddress(new java.net.InetSocketAddress("127.0.0.1", 0))
          .intercept(metrics.serverInterceptor()).addService(health.getHealthService()).build()
          .start();
      ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
          .usePlaintext().build();
      try {
        var stub = HealthGrpc.newBlockingStub(channel);
        stub.check(HealthCheckRequest.getDefaultInstance());
        stub.check(HealthCheckRequest.getDefaultInstance());
        StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(
            StatusRuntimeException.class,
            () -> stub.check(HealthCheckRequest.newBuilder().setService("nope").build()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
      } finally {
        channel.shutdownNow();
        server.shutdownNow();
      }
      Counter.builder("stratus.test.things").baseUnit("bytes")
          .register(io.micrometer.core.instrument.Metrics.globalRegistry).increment(42);

      HttpResponse<String> scrape = get(port, "/metrics");
      assertEquals(200, scrape.statusCode());
      assertTrue(scrape.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
      String body = scrape.body();
      assertTrue(body.contains("grpc_server_calls_seconds_count{code=\"OK\",grpc_method=\"Check\","
          + "grpc_service=\"grpc.health.v1.Health\",service=\"test-service\"} 2"), body);
      assertTrue(body.contains("grpc_server_calls_seconds_count{code=\"NOT_FOUND\","
          + "grpc_method=\"Check\",grpc_service=\"grpc.health.v1.Health\","
          + "service=\"test-service\"} 1"), body);
      assertTrue(body.contains("stratus_test_things_bytes_total{service=\"test-service\"} 42.0"),
          body);
      assertTrue(body.contains("jvm_memory_used_bytes"), "the JVM's meters");
      assertEquals(404, get(port, "/").statusCode());
      assertEquals(404, get(port, "/metrics/../admin").statusCode());
    }
    assertFalse(reachable(port), "closed with the service");
  }

  private static boolean reachable(int port) {
    Executable call = () -> get(port, "/metrics");
    try {
      call.execute();
      return true;
    } catch (Throwable t) {
      return false;
    }
  }

  @Test
  void isOffUnlessAPortIsSet() throws Exception {
    var off = io.stratus.support.config.OptionalEndpoint.read(
        io.stratus.support.config.Settings.of("t", "T_", java.util.Map.of()), "metrics",
        "127.0.0.1");
    assertFalse(off.enabled());
    try (Metrics metrics = Metrics.start("quiet", off)) {
      assertEquals(0, metrics.port());
      assertTrue(metrics.scrape().contains("service=\"quiet\""), "meters are kept all the same");
    }
  }
}
