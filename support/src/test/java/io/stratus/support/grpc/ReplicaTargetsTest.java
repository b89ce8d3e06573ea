package io.stratus.support.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.stratus.support.tls.Role;
import io.stratus.support.tls.TlsSettings;
import io.stratus.support.tls.TransportSecurity;
import io.stratus.testkit.DevCa;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Channels to replicas: a list spreads calls over every live replica, and when one is
 * stopped the calls go on to the others; each replica's certificate is checked against
 * its own address; bad lists are refused with the entry named.
 */
class ReplicaTargetsTest {

  private static ServerInterceptor counting(AtomicInteger calls) {
    return new ServerInterceptor() {
      @Override
      public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call,
          io.grpc.Metadata headers, ServerCallHandler<Q, A> next) {
        calls.incrementAndGet();
        return next.startCall(call, headers);
      }
    };
  }

  private static Server replica(String host, AtomicInteger calls) throws Exception {
    return NettyServerBuilder.forAddress(new InetSocketAddress(host, 0),
            InsecureServerCredentials.create())
        .addService(io.grpc.ServerInterceptors.intercept(
            new HealthStatusManager().getHealthService(), counting(calls)))
        .build().start();
  }

  @Test
  void callsAreSpreadOverTheReplicasAndGoOnWhenOneStops() throws Exception {
    AtomicInteger toA = new AtomicInteger();
    AtomicInteger toB = new AtomicInteger();
    Server a = replica("127.0.0.1", toA);
    Server b = replica("127.0.0.2", toB);
    String list = "127.0.0.1:" + a.getPort() + ", 127.0.0.2:" + b.getPort();
    ManagedChannel channel = NettyChannelBuilder.forTarget(ReplicaTargets.target(list),
            InsecureChannelCredentials.create())
        .defaultLoadBalancingPolicy(ReplicaTargets.policy(list)).build();
    try {
      var health = HealthGrpc.newBlockingStub(channel);
      for (int i = 0; i < 20; i++) {
        health.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance());
      }
      assertEquals(20, toA.get() + toB.get());
      assertTrue(toA.get() >= 5 && toB.get() >= 5, "a=" + toA + " b=" + toB);

      a.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      // a call that raced A's going away fails UNAVAILABLE (callers retry those); once the
      // channel has seen it go, every call lands on B
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (true) {
        try {
          health.withDeadlineAfter(10, TimeUnit.SECONDS)
              .check(HealthCheckRequest.getDefaultInstance());
          break;
        } catch (io.grpc.StatusRuntimeException e) {
          assertEquals(io.grpc.Status.Code.UNAVAILABLE, e.getStatus().getCode());
          assertTrue(System.nanoTime() < deadline, "calls still fail: " + e);
          Thread.sleep(20);
        }
      }
      int beforeB = toB.get();
      for (int i = 0; i < 10; i++) {
        health.withWaitForReady().withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance());
      }
      assertEquals(beforeB + 10, toB.get());
    } finally {
      channel.shutdownNow();
      a.shutdownNow();
      b.shutdownNow();
    }
  }

  @Test
  void eachReplicasCertificateIsCheckedAgainstItsOwnAddress(@TempDir Path dir) throws Exception {
    DevCa ca = DevCa.create(dir.resolve("pki"));
    List<AutoCloseable> closers = new ArrayList<>();
    try {
      AtomicInteger toA = new AtomicInteger();
      AtomicInteger toB = new AtomicInteger();
      // each gateway's certificate names its own address only
      int a = tlsReplica(ca, ca.issue("gateway", "gateway", "127.0.0.1"), "127.0.0.1", toA,
          closers);
      int b = tlsReplica(ca, ca.issue("gateway", "gateway", "127.0.0.2"), "127.0.0.2", toB,
          closers);
      DevCa.Issued agent = ca.issue("agent", "host-1");
      TransportSecurity tls = TransportSecurity.open(
          TlsSettings.of(ca.caCert(), agent.cert(), agent.key(), Duration.ofMinutes(1)), "test");
      closers.add(tls);
      String list = "127.0.0.1:" + a + ",127.0.0.2:" + b;
      ManagedChannel channel = NettyChannelBuilder.forTarget(ReplicaTargets.target(list),
              tls.channel(Role.GATEWAY))
          .defaultLoadBalancingPolicy(ReplicaTargets.policy(list)).build();
      closers.add(channel::shutdownNow);
      for (int i = 0; i < 10; i++) {
        HealthGrpc.newBlockingStub(channel).withWaitForReady()
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance());
      }
      assertTrue(toA.get() >= 3 && toB.get() >= 3, "a=" + toA + " b=" + toB);
    } finally {
      for (int i = closers.size() - 1; i >= 0; i--) {
        closers.get(i).close();
      }
    }
  }

  private static int tlsReplica(DevCa ca, DevCa.Issued cert, String host, AtomicInteger calls,
      List<AutoCloseable> closers) throws Exception {
    TransportSecurity tls = TransportSecurity.open(
        TlsSettings.of(ca.caCert(), cert.cert(), cert.key(), Duration.ofMinutes(1)), "test");
    closers.add(tls);
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress(host, 0),
            tls.server(true))
        .addService(io.grpc.ServerInterceptors.intercept(
            new HealthStatusManager().getHealthService(), counting(calls)))
        .build().start();
    closers.add(server::shutdownNow);
    return server.getPort();
  }

  @Test
  void aSingleTargetIsUsedAsItIs() {
    assertEquals("dns:///gw.example:9292", ReplicaTargets.target("dns:///gw.example:9292"));
    assertEquals("pick_first", ReplicaTargets.policy("127.0.0.1:9292"));
    assertEquals("round_robin", ReplicaTargets.policy("a:1,b:2"));
  }

  @Test
  void aListEntryThatIsNotHostAndPortIsNamed() {
    for (String bad : new String[] {"a:1,b", "a:1,:2", "a:1,b:x", "a:1,b:70000", "a:1,,b:2"}) {
      var e = assertThrows(IllegalArgumentException.class, () -> ReplicaTargets.target(bad));
      assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
    }
  }
}
